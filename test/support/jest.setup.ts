import { DefaultLogger, Runtime } from '@temporalio/worker';

// The SDK logs worker state changes at INFO; tests want only warnings and errors.
Runtime.install({ logger: new DefaultLogger((process.env.TEST_LOG_LEVEL?.toUpperCase() as 'WARN') ?? 'WARN') });
