// The subscriptions the broker granted, by the subscription object aedes passes around. aedes stores a
// SUBSCRIBE's whole list in a persistent session (refused filters too); the persistence guard stores only
// what is in here.

export const grantedSubscriptions = new WeakSet<object>();
