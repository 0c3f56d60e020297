#pragma once
// FunctorModel<Target>: a Model for the CPU back end built from one target
// functor (see targets/evaluate.hpp), evaluated chain by chain in parallel.

#include <string>
#include <utility>
#include <vector>

#include "fmala/model/model.hpp"
#include "fmala/targets/evaluate.hpp"

namespace fmala {

template <class Target>
class FunctorModel : public Model {
 public:
  FunctorModel(Target target, int dim, std::string description)
      : target_(std::move(target)), dim_(dim), description_(std::move(description)) {}

  int dim() const override { return dim_; }
  std::string description() const override { return description_; }
  const Target& target() const { return target_; }

  void jet(int chains,
           const Real* theta,
           const Real* direction,
           int order,
           Real* f,
           Real* d,
           Real* h) const override {
    const size_t dim = static_cast<size_t>(dim_);
#pragma omp parallel for schedule(static) if (parallel(chains))
    for (int k = 0; k < chains; ++k) {
      Real unused_d = 0;
      Real unused_h = 0;
      evaluate_jet(target_, theta + k * dim, direction ? direction + k * dim : nullptr, order,
                   f + k, d ? d + k : &unused_d, h ? h + k : &unused_h);
    }
  }

  void gradient(int chains, const Real* theta, Real* f, Real* g) const override {
    const size_t dim = static_cast<size_t>(dim_);
#pragma omp parallel if (parallel(chains))
    {
      std::vector<Real> unit(dim);
#pragma omp for schedule(static)
      for (int k = 0; k < chains; ++k) {
        f[k] = evaluate_gradient(target_, dim_, theta + k * dim, g + k * dim, unit.data());
      }
    }
  }

 protected:
  // Replaces the functor, for models whose target points into their own storage.
  void rebind(Target target) { target_ = std::move(target); }

 private:
  // Analytic targets cost O(D) per chain: below 32,768 chain-coordinates the
  // whole batch runs on the calling thread. Inside the CPU engine's
  // transition, which already runs in a parallel region, the loop runs on the
  // calling thread anyway.
  bool parallel(int chains) const { return static_cast<long long>(chains) * dim_ >= 32768; }

  Target target_;
  int dim_;
  std::string description_;
};

}  // namespace fmala
