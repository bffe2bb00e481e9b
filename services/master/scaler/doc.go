// Package scaler holds the master's pure scaling logic: turning arrival counts into a rate, learning how much one
// worker can process, and deciding how many workers a pool should have.
//
// Nothing here performs I/O, talks to the broker or sleeps. Time is always passed in by the caller, so the whole
// policy can be driven deterministically by tests and replayed from logs.
//
// The default sizing rule is N = ceil((λ + B/Tr) / (u·C)): the fewest workers that serve the arrival rate λ (events
// per second) and drain the backlog B (events) within Tr (seconds) while each runs at the target utilization u of
// its capacity C (events per second). The seed formula N = ceil((B + λ·Tr) / C) stays selectable (FormulaSeed).
package scaler
