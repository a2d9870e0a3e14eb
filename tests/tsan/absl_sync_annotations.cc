// ThreadSanitizer builds only: makes the synchronization of Debian's
// (uninstrumented) Abseil visible to TSan: its mutexes, condition variables
// and notifications, and absl::Status's reference count (at the end).
//
// libabsl_synchronization.so is not built with -fsanitize=thread, so TSan
// cannot see that absl::Mutex::Unlock in one thread happens before Lock in
// another (the mutex uses atomics and futexes inside the library) and would
// report every access guarded by an absl::Mutex as a race. This file defines
// the blocking entry points of absl::Mutex, absl::CondVar and
// absl::Notification in the test executable. ELF symbol interposition makes
// every caller (streamfit's code, and gRPC's, whose grpc_core::Mutex wraps
// absl::Mutex) call these definitions; each forwards to the library's real
// function (dlsym RTLD_NEXT) and tells TSan about the happens-before edge with
// __tsan_release (before giving a mutex up) and __tsan_acquire (after taking
// it), exactly what an instrumented Abseil would annotate. No report is
// suppressed by this: it adds edges that really exist.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/internal/status_internal.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

#define STREAMFIT_STR2(x) #x
#define STREAMFIT_STR(x) STREAMFIT_STR2(x)

namespace {

// The library's definition of absl::<rest>, e.g. "5Mutex4LockEv"; `konst`
// for const member functions.
void* Real(const char* rest, bool konst = false) {
  const std::string ns = STREAMFIT_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = std::string(konst ? "_ZNK4absl" : "_ZN4absl") +
                           std::to_string(ns.size()) + ns + rest;
  void* f = dlsym(RTLD_NEXT, name.c_str());
  if (f == nullptr) {
    std::fprintf(stderr, "tsan shim: %s not found\n", name.c_str());
    std::abort();
  }
  return f;
}

template <typename F>
F RealAs(const char* rest, bool konst = false) {
  return reinterpret_cast<F>(Real(rest, konst));
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static auto real = RealAs<void (*)(Mutex*)>("5Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  static auto real = RealAs<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  static auto real = RealAs<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static auto real = RealAs<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  static auto real = RealAs<void (*)(Mutex*)>("5Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  static auto real = RealAs<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  static auto real = RealAs<void (*)(Mutex*, const Condition&)>(
      "5Mutex8LockWhenERKNS0_9ConditionE");
  real(this, cond);
  __tsan_acquire(this);
}

// Await and CondVar waits give the mutex up while they block and take it
// back before returning.
void Mutex::Await(const Condition& cond) {
  static auto real = RealAs<void (*)(Mutex*, const Condition&)>(
      "5Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(this);
  real(this, cond);
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  static auto real = RealAs<bool (*)(Mutex*, const Condition&, Duration)>(
      "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(this);
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  static auto real = RealAs<bool (*)(Mutex*, const Condition&, Time)>(
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_release(this);
  const bool met = real(this, cond, deadline);
  __tsan_acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  static auto real =
      RealAs<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static auto real = RealAs<bool (*)(CondVar*, Mutex*, Duration)>(
      "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static auto real = RealAs<bool (*)(CondVar*, Mutex*, Time)>(
      "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

void Notification::Notify() {
  static auto real = RealAs<void (*)(Notification*)>("12Notification6NotifyEv");
  __tsan_release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  static auto real = RealAs<void (*)(const Notification*)>(
      "12Notification19WaitForNotificationEv", /*konst=*/true);
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  static auto real = RealAs<bool (*)(const Notification*, Duration)>(
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE",
      /*konst=*/true);
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

// absl::Status copies share one reference-counted representation (message
// and payloads), freed by whichever copy goes last. Its count is decremented
// in the library (Status::UnrefNonInlined), out of TSan's sight, so a copy
// destroyed on one thread after another thread read the shared message looks
// like a race (seen: a sample log's failure status read by Append while the
// sync thread's copy of it was destroyed). This is the library's own
// definition, compiled here so that TSan sees the count's atomics.
void Status::UnrefNonInlined(uintptr_t rep) {
  status_internal::StatusRep* r = RepToPointer(rep);
  if (r->ref.load(std::memory_order_acquire) == 1 ||
      r->ref.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) {
    delete r;
  }
}

ABSL_NAMESPACE_END
}  // namespace absl

// Options for every test binary of the TSan build: the suppressions file
// (gRPC internals only, see tests/tsan.supp) and a failing exit on any report.
// history_size=7 (the largest) keeps the most access history per thread: a
// report whose earlier stack cannot be restored cannot match the
// suppressions that name that stack (gRPC's deserialization into a
// reactor's request buffer was seen so).
extern "C" const char* __tsan_default_options() {
  return "suppressions=" STREAMFIT_TSAN_SUPPRESSIONS
         ":halt_on_error=1:second_deadlock_stack=1:history_size=7";
}
