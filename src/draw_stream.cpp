#include <omp.h>

#include <algorithm>
#include <cmath>

#include "fmala/run.hpp"

namespace fmala {

void DrawStream::start(int chains_in, int dim_in, const StreamSettings& settings) {
  chains = chains_in;
  dim = dim_in;
  monitored = settings.monitor;
  keep_last = settings.keep_last;
  count = 0;
  const size_t cd = static_cast<size_t>(chains) * static_cast<size_t>(dim);
  mean.assign(cd, 0.0);
  m2.assign(cd, 0.0);
  last = Draws{};
  last.chains = chains;
  last.draws = keep_last;
  last.dim = dim;
  last.values.assign(cd * static_cast<size_t>(keep_last), Real(0));
  last.log_density.assign(static_cast<size_t>(chains) * keep_last, Real(0));
}

void DrawStream::add(const Draws& one) {
  ++count;
  const double n = static_cast<double>(count);
  const size_t d = static_cast<size_t>(dim);
  const size_t slot = keep_last > 0 ? static_cast<size_t>((count - 1) % keep_last) : 0;
#pragma omp parallel for schedule(static) if (static_cast<int64_t>(chains) * dim >= 4096)
  for (int k = 0; k < chains; ++k) {
    const Real* x = one.at(k, 0);
    double* mu = mean.data() + static_cast<size_t>(k) * d;
    double* ss = m2.data() + static_cast<size_t>(k) * d;
    for (size_t j = 0; j < d; ++j) {
      const double delta = static_cast<double>(x[j]) - mu[j];
      mu[j] += delta / n;
      ss[j] += delta * (static_cast<double>(x[j]) - mu[j]);
    }
    if (keep_last > 0) {
      const size_t cell = static_cast<size_t>(k) * static_cast<size_t>(keep_last) + slot;
      std::copy(x, x + d, last.values.begin() + static_cast<std::ptrdiff_t>(cell * d));
      last.log_density[cell] = one.log_density[static_cast<size_t>(k)];
    }
  }
}

Draws DrawStream::last_in_order() const {
  const int n = static_cast<int>(std::min<int64_t>(keep_last, count));
  Draws out;
  out.chains = chains;
  out.draws = n;
  out.dim = dim;
  const size_t d = static_cast<size_t>(dim);
  out.values.resize(static_cast<size_t>(chains) * n * d);
  out.log_density.resize(static_cast<size_t>(chains) * n);
  if (n == 0) {
    return out;
  }
  // The oldest kept draw sits at slot count mod K once the ring has wrapped.
  const int first = count > keep_last ? static_cast<int>(count % keep_last) : 0;
  for (int k = 0; k < chains; ++k) {
    for (int s = 0; s < n; ++s) {
      const size_t from = static_cast<size_t>(k) * keep_last + static_cast<size_t>((first + s) % keep_last);
      const size_t to = static_cast<size_t>(k) * n + s;
      std::copy_n(last.values.begin() + static_cast<std::ptrdiff_t>(from * d), d,
                  out.values.begin() + static_cast<std::ptrdiff_t>(to * d));
      out.log_density[to] = last.log_density[from];
    }
  }
  return out;
}

double DrawStream::pooled_mean(int j) const {
  double sum = 0.0;
  for (int k = 0; k < chains; ++k) {
    sum += mean[static_cast<size_t>(k) * dim + j];
  }
  return sum / chains;
}

double DrawStream::pooled_sd(int j) const {
  const double n = static_cast<double>(count) * chains;
  if (n < 2) {
    return NAN;
  }
  const double pooled = pooled_mean(j);
  double squares = 0.0;
  for (int k = 0; k < chains; ++k) {
    const size_t cell = static_cast<size_t>(k) * dim + j;
    const double offset = mean[cell] - pooled;
    squares += m2[cell] + static_cast<double>(count) * offset * offset;
  }
  return std::sqrt(squares / (n - 1));
}

}  // namespace fmala
