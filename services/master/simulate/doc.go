// Package simulate replays an arrival trace through a model of a work queue and a worker pool, driving the
// master's real scaling code (master.Evaluator: the rate meter, the capacity learner and the scaler) on a
// simulated clock. It answers, in milliseconds and deterministically, how a policy sizes a pool for a load:
// how many worker-seconds it spends against an oracle that knows the future, how often it changes the pool,
// how long events wait, and how fast it reacts to a step. Policy bars can so be asserted in unit tests without a
// broker, a runtime or a wall clock.
//
// The model is a fluid FIFO queue served by identical workers. What it simplifies is documented on Model and on
// Run; what it never simplifies is the master: every evaluation goes through master.Evaluator exactly as the
// master's own loop calls it, and every worker report goes through Evaluator.Observe.
package simulate
