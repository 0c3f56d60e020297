#include "fmala/model/model.hpp"

#include <algorithm>
#include <string>

#include "fmala/core/error.hpp"
#include "fmala/random/philox.hpp"

namespace fmala {

void Model::initial_state(uint64_t seed, int first_chain, int chains, Real* theta) const {
  const int d = dim();
  for (int k = 0; k < chains; ++k) {
    Stream stream(seed, static_cast<uint64_t>(first_chain + k), -1, Draw::init);
    for (int i = 0; i < d; ++i) {
      theta[static_cast<size_t>(k) * d + i] = Real(0.1) * static_cast<Real>(stream.normal());
    }
  }
}

std::vector<const Real*> last_draws_per_chain(const Draws& draws,
                                              int dim,
                                              int per_chain,
                                              const std::string& where) {
  if (draws.dim != dim) {
    throw make_error(where,
                     "draws have " + std::to_string(draws.dim) + " parameters, the model has " +
                         std::to_string(dim),
                     "Pass draws sampled from this model");
  }
  if (draws.chains <= 0 || draws.draws <= 0) {
    return {};
  }
  const size_t expected =
      static_cast<size_t>(draws.chains) * static_cast<size_t>(draws.draws) * draws.dim;
  if (draws.values.size() != expected) {
    throw make_error(where, "draws.values has " + std::to_string(draws.values.size()) +
                                " entries, expected chains * draws * dim = " + std::to_string(expected));
  }
  const int kept = std::min(draws.draws, per_chain);
  std::vector<const Real*> selected;
  selected.reserve(static_cast<size_t>(draws.chains) * kept);
  for (int c = 0; c < draws.chains; ++c) {
    for (int s = draws.draws - kept; s < draws.draws; ++s) {
      selected.push_back(draws.at(c, s));
    }
  }
  return selected;
}

}  // namespace fmala
