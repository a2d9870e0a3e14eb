// Names the calling thread, as `top -H`, `ps -L`, perf and debuggers show it.
#ifndef STREAMFIT_CORE_THREAD_NAME_H_
#define STREAMFIT_CORE_THREAD_NAME_H_

#include <pthread.h>

namespace streamfit {

// `name` has at most 15 characters (Linux's limit; a longer one is ignored).
// Thread-safe; affects only the calling thread.
inline void NameThisThread(const char* name) {
  pthread_setname_np(pthread_self(), name);
}

}  // namespace streamfit

#endif  // STREAMFIT_CORE_THREAD_NAME_H_
