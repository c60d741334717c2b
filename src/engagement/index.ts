// The engagement core: the deal's delivery-to-cash behaviour as pure functions
// over a plain, serialisable state. No I/O, no clock, no Temporal: the delivery
// workflow receives messages, asks these functions, and runs the commands they
// return as activities.
export * from './amendments';
export * from './attention';
export * from './calendar';
export * from './cash';
export * from './commands';
export * from './credits';
export * from './deal';
export * from './dunning';
export * from './intake';
export * from './invoicing';
export * from './issuing';
export * from './refusal';
export * from './revenue';
export * from './scope';
export * from './stalled-issue';
export * from './issue-priority';
export * from './state';
export * from './termination';
export * from './view';
export * from './waterfall';
export type * from './model';
