export * from './auth';
export * from './classify';
export * from './client';
export * from './pagination';
export * from './rate-limit';
export * from './secrets';
