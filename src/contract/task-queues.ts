/**
 * Rate-limited ERP calls run on their own task queue, whose workers set maxTaskQueueActivitiesPerSecond.
 * This is its default name: the deployment sets its own with ERP_TASK_QUEUE (src/config), and each deal
 * carries the name it was started with (DealInput.erpTaskQueue); a deal without one uses this.
 */
export const ERP_TASK_QUEUE = 'q2c-erp';
