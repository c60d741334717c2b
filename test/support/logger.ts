import pino from 'pino';

/** A logger that prints nothing unless TEST_LOG_LEVEL asks for it. */
export const testLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
