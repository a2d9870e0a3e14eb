// Predict calls that wait for a version never reached and are given up by
// their deadline: the server must forget each one (no waiter, no memory).
#ifndef STREAMFIT_BENCH_STREAMFIT_BENCH_ABANDONED_WAITS_H_
#define STREAMFIT_BENCH_STREAMFIT_BENCH_ABANDONED_WAITS_H_

#include <cstdint>
#include <string>

#include "server/server.h"

namespace streamfit::bench {

// The client side: sends `calls` Predict calls to `model` at `address`,
// `in_flight` at a time, each with an unreachable min_version and a 1 ms
// deadline. Returns 0, or 1 if a call did not end with DEADLINE_EXCEEDED.
int SendAbandonedWaits(const std::string& address, const std::string& model,
                       uint32_t features, int64_t calls, int in_flight);

// The server side: runs SendAbandonedWaits in a child process (this binary
// with --target) against the in-process `server`, so that this process's
// VmRSS is the server's alone; prints it before and after, and the model's
// learner waiters left. Returns 0, or 1 if the child failed or waiters are
// left.
int RunAbandonedWaits(StreamfitServer& server, const std::string& model,
                      uint32_t features, int64_t calls, int in_flight);

}  // namespace streamfit::bench

#endif  // STREAMFIT_BENCH_STREAMFIT_BENCH_ABANDONED_WAITS_H_
