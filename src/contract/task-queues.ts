/** Rate-limited ERP calls run on their own task queue, whose workers set maxTaskQueueActivitiesPerSecond. */
export const ERP_TASK_QUEUE = 'q2c-erp';
