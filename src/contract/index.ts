// The public contract of the deal workflow: ids, inputs, events, views and
// messages. Modules here import no implementation (types, message definitions
// and pure demo-calendar helpers), so the service, the CLI, activities and
// tests depend on the contract, never on workflow code.
export * from './deal';
export * from './demo';
export * from './exceptions';
export * from './messages';
export * from './search-attributes';
export * from './stages';
export * from './sweep';
export * from './task-queues';
export type * from '../engagement/model';
export * from './governance';
