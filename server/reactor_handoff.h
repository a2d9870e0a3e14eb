// Makes gRPC's ordering of a callback reactor's reactions visible to
// ThreadSanitizer; compiles to nothing in other builds.
//
// gRPC runs a reaction (OnReadDone, OnWriteDone, OnCancel, OnDone) only
// after the operation that caused it was started (StartRead, StartWrite,
// Finish, or the reactor being handed to gRPC), so everything the reactor
// did before starting it happens before the reaction. That hand-over happens
// inside libgrpc, which Debian ships without TSan instrumentation, so a TSan
// build would report the reactor's own members as racing between
// reactions. HandedOffReactor<Base> tells TSan about exactly that edge: a
// release on the reactor before each Start*/Finish and an acquire at the
// start of each reaction (the reaction calls Reacting()). It orders nothing
// that gRPC does not already order.
#ifndef STREAMFIT_SERVER_REACTOR_HANDOFF_H_
#define STREAMFIT_SERVER_REACTOR_HANDOFF_H_

#include <utility>

#if defined(__SANITIZE_THREAD__)
#define STREAMFIT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STREAMFIT_TSAN 1
#endif
#endif

#ifdef STREAMFIT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace streamfit {

// `Base` is a grpc::Server*Reactor. Thread-compatible like its base.
template <typename Base>
class HandedOffReactor : public Base {
 protected:
  // Call first in every reaction.
  void Reacting() {
#ifdef STREAMFIT_TSAN
    __tsan_acquire(this);
#endif
  }
  // Call before returning a new reactor to gRPC.
  void HandOff() {
#ifdef STREAMFIT_TSAN
    __tsan_release(this);
#endif
  }
  template <typename... Args>
  void StartRead(Args&&... args) {
    HandOff();
    Base::StartRead(std::forward<Args>(args)...);
  }
  template <typename... Args>
  void StartWrite(Args&&... args) {
    HandOff();
    Base::StartWrite(std::forward<Args>(args)...);
  }
  template <typename... Args>
  void Finish(Args&&... args) {
    HandOff();
    Base::Finish(std::forward<Args>(args)...);
  }
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_REACTOR_HANDOFF_H_
