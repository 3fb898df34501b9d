// Package workflow is the domain of Firebreak: incidents, their levels and
// categories, the handling policy with its deadlines, drafts of the unified
// reply and their approvals, the roster of people, and the Service that performs
// every state transition and enforces every rule of the handling plan.
//
// It imports only the standard library. Storage, timers and delivery are
// interfaces (Store) implemented by adapters.
package workflow
