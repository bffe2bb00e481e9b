// Package scaler holds the master's pure scaling logic: turning arrival counts into a rate, learning how much one
// worker can process, and deciding how many workers a pool should have.
//
// Nothing here performs I/O, talks to the broker or sleeps. Time is always passed in by the caller, so the whole
// policy can be driven deterministically by tests and replayed from logs.
//
// The sizing rule is N = ceil((B + λ·Tr) / C), where B is the work queue's backlog in events, λ the arrival rate in
// events per second, Tr the drain time in seconds and C one worker's capacity in events per second.
package scaler
