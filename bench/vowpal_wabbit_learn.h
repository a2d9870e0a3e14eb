// Vowpal Wabbit's learner on the same examples as streamfit's, in the same
// streamfit-learn-speed run: built only where CMake finds an installed
// Vowpal Wabbit (find_package(VowpalWabbit); Debian 12 does not package it,
// docs/LEARNING.md, "Against Vowpal Wabbit", builds it from source).
#ifndef STREAMFIT_BENCH_VOWPAL_WABBIT_LEARN_H_
#define STREAMFIT_BENCH_VOWPAL_WABBIT_LEARN_H_

namespace streamfit {

// Registers VW/<shape>/<settings>: Vowpal Wabbit's learn() on each hashed
// shape's examples, parsed once before timing, one example per iteration
// (as Learn/<shape>/<rule> times ModelTrainer::Learn).
void RegisterVowpalWabbit();

}  // namespace streamfit

#endif  // STREAMFIT_BENCH_VOWPAL_WABBIT_LEARN_H_
