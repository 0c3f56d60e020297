#include "fmala/io/checkpoint.hpp"

#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

#include "fmala/backend/buffer_layout.hpp"
#include "fmala/core/error.hpp"
#include "fmala/io/atomic_file.hpp"

namespace fmala::io {

static_assert(std::endian::native == std::endian::little, "checkpoints are written little-endian");

namespace {

constexpr char kMagic[8] = {'F', 'M', 'A', 'L', 'A', 'C', 'K', 'P'};
constexpr uint32_t kVersion = 1;
constexpr size_t kMaxSamplerName = 64;

// FNV-1a, 64 bits.
struct Checksum {
  uint64_t value = 14695981039346656037ull;
  void add(const void* data, size_t n) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      value = (value ^ bytes[i]) * 1099511628211ull;
    }
  }
};

// Flags of the optional parts of the payload.
enum : uint8_t { kHasGrad = 1, kHasTangent = 2, kHasAdapt = 4, kHasWarmupCounters = 8, kHasStream = 16 };

// The fixed part of the payload, before the arrays.
struct Identity {
  std::string sampler;
  int32_t chains = 0, dim = 0, warmup = 0, draws = 0, thin = 0;
  uint64_t seed = 0;
  int64_t first_chain = 0;
  int64_t done = 0;
  int32_t kept = 0;
  int32_t scalar_buffers = 0, counter_buffers = 0;
  uint8_t flags = 0;
  int32_t columns = 0;    // of the kept draws: dim, or the monitored count when streaming
  int32_t monitored = 0;  // streaming: monitored coordinates
  int32_t keep_last = 0;  // streaming: last draws kept per chain
};

// Bytes of the payload after the identity: every array and the timings.
uint64_t array_bytes(const Identity& id) {
  const uint64_t c = static_cast<uint64_t>(id.chains);
  const uint64_t cd = c * static_cast<uint64_t>(id.dim);
  uint64_t n = 5 * sizeof(double);  // shared adaptation
  n += cd * sizeof(Real);           // θ
  n += (id.flags & kHasGrad) ? cd * sizeof(Real) : 0;
  n += (id.flags & kHasTangent) ? cd * sizeof(Real) : 0;
  n += c * sizeof(Real);  // log-density
  n += c * static_cast<uint64_t>(id.scalar_buffers) * sizeof(Real);
  n += c * static_cast<uint64_t>(id.counter_buffers) * sizeof(int64_t);
  n += (id.flags & kHasAdapt) ? c * 5 * sizeof(double) : 0;
  n += (id.flags & kHasWarmupCounters) ? c * (3 * sizeof(int64_t) + 2 * sizeof(Real)) : 0;
  const uint64_t kept = static_cast<uint64_t>(id.kept);
  n += c * kept * (static_cast<uint64_t>(id.columns) + 1) * sizeof(Real);
  n += c * kept * (2 * sizeof(Real) + 3 * sizeof(int64_t));  // per-draw statistics
  n += 2 * sizeof(double);  // timings
  if (id.flags & kHasStream) {
    const uint64_t last = static_cast<uint64_t>(id.keep_last);
    n += static_cast<uint64_t>(id.monitored) * sizeof(int32_t) + sizeof(int64_t);
    n += 2 * cd * sizeof(double);                 // Welford mean and m2
    n += c * last * (static_cast<uint64_t>(id.dim) + 1) * sizeof(Real);  // last draws
  }
  return n;
}

uint64_t identity_bytes(const Identity& id) {
  return sizeof(uint32_t) + id.sampler.size() + 5 * sizeof(int32_t) + sizeof(uint64_t) +
         2 * sizeof(int64_t) + 3 * sizeof(int32_t) + sizeof(uint8_t) + 3 * sizeof(int32_t);
}

class Writer {
 public:
  explicit Writer(AtomicFile& file) : file_(file) {}
  void put(const void* data, size_t n) {
    checksum_.add(data, n);
    const auto* bytes = static_cast<const char*>(data);
    buffer_.append(bytes, n);
    if (buffer_.size() >= (1u << 20)) {
      flush();
    }
  }
  template <class T>
  void value(const T& v) {
    put(&v, sizeof v);
  }
  template <class T>
  void array(const std::vector<T>& v) {
    put(v.data(), v.size() * sizeof(T));
  }
  void flush() {
    file_.write(buffer_);
    buffer_.clear();
  }
  uint64_t checksum() const { return checksum_.value; }

 private:
  AtomicFile& file_;
  Checksum checksum_;
  std::string buffer_;
};

class Reader {
 public:
  Reader(std::ifstream& in, const std::string& path) : in_(in), path_(path) {}
  void get(void* data, size_t n) {
    in_.read(static_cast<char*>(data), static_cast<std::streamsize>(n));
    if (static_cast<size_t>(in_.gcount()) != n) {
      throw make_error(path_, "the checkpoint is truncated",
                       "It was cut short while being copied; resume from an intact copy");
    }
    checksum_.add(data, n);
  }
  template <class T>
  T value() {
    T v{};
    get(&v, sizeof v);
    return v;
  }
  template <class T>
  void array(std::vector<T>& v, size_t n) {
    v.resize(n);
    get(v.data(), n * sizeof(T));
  }
  uint64_t checksum() const { return checksum_.value; }

 private:
  std::ifstream& in_;
  const std::string& path_;
  Checksum checksum_;
};

void put_adaptation(Writer& w, const DualAveraging& a) {
  const double fields[5] = {a.mu, a.h_bar, a.log_step, a.log_step_bar, a.count};
  w.put(fields, sizeof fields);
}

DualAveraging get_adaptation(Reader& r) {
  double fields[5];
  r.get(fields, sizeof fields);
  DualAveraging a;
  a.mu = static_cast<Real>(fields[0]);
  a.h_bar = static_cast<Real>(fields[1]);
  a.log_step = static_cast<Real>(fields[2]);
  a.log_step_bar = static_cast<Real>(fields[3]);
  a.count = static_cast<Real>(fields[4]);
  return a;
}

Identity identity_of(const RunCheckpoint& c) {
  Identity id;
  id.sampler = c.sampler;
  id.chains = c.chains;
  id.dim = c.dim;
  id.warmup = c.warmup;
  id.draws = c.draws;
  id.thin = c.thin;
  id.seed = c.seed;
  id.first_chain = c.first_chain;
  id.done = c.done;
  id.kept = c.kept;
  id.scalar_buffers = kScalarBuffers;
  id.counter_buffers = kCounterBuffers;
  id.flags = static_cast<uint8_t>((c.engine.grad.empty() ? 0 : kHasGrad) |
                                  (c.engine.tangent.empty() ? 0 : kHasTangent) |
                                  (c.engine.adapt.empty() ? 0 : kHasAdapt) |
                                  (c.at_warmup_end.accepted.empty() ? 0 : kHasWarmupCounters) |
                                  (c.stream.dim > 0 ? kHasStream : 0));
  id.columns = c.kept_draws.dim;
  id.monitored = static_cast<int32_t>(c.stream.monitored.size());
  id.keep_last = c.stream.keep_last;
  return id;
}

}  // namespace

void write_checkpoint(const std::string& path, const RunCheckpoint& c) {
  if (c.sampler.size() > kMaxSamplerName) {
    throw make_error(path, "the sampler name '" + c.sampler + "' is too long for a checkpoint");
  }
  const Identity id = identity_of(c);
  const size_t chains = static_cast<size_t>(c.chains);
  const size_t kept = static_cast<size_t>(c.kept);
  const Draws& d = c.kept_draws;
  const size_t dim = static_cast<size_t>(d.dim);
  const size_t cd = chains * static_cast<size_t>(c.dim);
  const DrawStream& st = c.stream;
  if (st.dim > 0 && (st.mean.size() != cd || st.m2.size() != cd ||
                     st.last.values.size() != cd * static_cast<size_t>(st.keep_last) ||
                     st.last.log_density.size() != chains * static_cast<size_t>(st.keep_last))) {
    throw make_error(path, "the running statistics to checkpoint do not have the run's shape");
  }
  if (d.chains != c.chains || (st.dim == 0 && d.dim != c.dim) || d.draws < c.kept ||
      d.values.size() != chains * static_cast<size_t>(d.draws) * dim ||
      d.log_density.size() != chains * static_cast<size_t>(d.draws) || !d.has_statistics()) {
    throw make_error(path, "the draws to checkpoint do not have the run's shape");
  }
  AtomicFile file(path);
  {
    std::string header(kMagic, sizeof kMagic);
    const uint32_t version = kVersion;
    const uint32_t zero = 0;
    const uint64_t length = identity_bytes(id) + array_bytes(id);
    header.append(reinterpret_cast<const char*>(&version), sizeof version);
    header.append(reinterpret_cast<const char*>(&zero), sizeof zero);
    header.append(reinterpret_cast<const char*>(&length), sizeof length);
    file.write(header);
  }
  Writer w(file);
  w.value(static_cast<uint32_t>(id.sampler.size()));
  w.put(id.sampler.data(), id.sampler.size());
  for (int32_t v : {id.chains, id.dim, id.warmup, id.draws, id.thin}) {
    w.value(v);
  }
  w.value(id.seed);
  w.value(id.first_chain);
  w.value(id.done);
  w.value(id.kept);
  w.value(id.scalar_buffers);
  w.value(id.counter_buffers);
  w.value(id.flags);
  w.value(id.columns);
  w.value(id.monitored);
  w.value(id.keep_last);

  put_adaptation(w, c.shared);
  const EngineState& e = c.engine;
  w.array(e.theta);
  w.array(e.grad);
  w.array(e.tangent);
  w.array(e.log_density);
  w.array(e.scalars);
  w.array(e.counts);
  for (const DualAveraging& a : e.adapt) {
    put_adaptation(w, a);
  }
  if (id.flags & kHasWarmupCounters) {
    const EngineCounters& n = c.at_warmup_end;
    w.array(n.accepted);
    w.array(n.nonfinite);
    w.array(n.floor_hits);
    w.array(n.accept_prob_sum);
    w.array(n.step_size);
  }
  for (size_t k = 0; k < chains; ++k) {
    w.put(d.at(static_cast<int>(k), 0), kept * dim * sizeof(Real));
  }
  // The first `kept` of every chain's row of a (C, S) array.
  const auto rows = [&](const auto& cells) {
    using T = typename std::decay_t<decltype(cells)>::value_type;
    for (size_t k = 0; k < chains; ++k) {
      w.put(cells.data() + k * static_cast<size_t>(d.draws), kept * sizeof(T));
    }
  };
  rows(d.log_density);
  rows(d.accept_prob);
  rows(d.step_size);
  rows(d.accepted);
  rows(d.nonfinite);
  rows(d.floor_hits);
  w.value(c.seconds_warmup);
  w.value(c.seconds_sampling);
  if (id.flags & kHasStream) {
    w.array(st.monitored);
    w.value(st.count);
    w.array(st.mean);
    w.array(st.m2);
    w.array(st.last.values);
    w.array(st.last.log_density);
  }
  w.flush();
  const uint64_t checksum = w.checksum();
  file.write(&checksum, sizeof checksum);
  file.commit();
}

RunCheckpoint read_checkpoint(const std::string& path, const RunSettings& settings, int dim) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw make_error(path, "cannot open the checkpoint", "Check the path");
  }
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  const auto damaged = [&](const std::string& what) {
    return make_error(path, what, "The checkpoint is damaged or not one; resume from an intact copy");
  };

  char magic[8] = {};
  uint32_t version = 0;
  uint32_t zero = 0;
  uint64_t length = 0;
  in.read(magic, sizeof magic);
  if (static_cast<size_t>(in.gcount()) != sizeof magic || std::memcmp(magic, kMagic, sizeof magic) != 0) {
    throw damaged("it does not start with the checkpoint magic string FMALACKP");
  }
  in.read(reinterpret_cast<char*>(&version), sizeof version);
  in.read(reinterpret_cast<char*>(&zero), sizeof zero);
  in.read(reinterpret_cast<char*>(&length), sizeof length);
  if (!in) {
    throw damaged("its header is truncated");
  }
  if (version != kVersion) {
    throw make_error(path, "checkpoint format version " + std::to_string(version) + " is not supported",
                     "This fmala reads version " + std::to_string(kVersion) +
                         "; resume with the fmala that wrote it");
  }
  constexpr uint64_t kHeader = sizeof magic + sizeof version + sizeof zero + sizeof length;
  if (zero != 0 || length > file_size || file_size - length != kHeader + sizeof(uint64_t)) {
    throw damaged("its length (" + std::to_string(file_size) + " bytes) does not match its header");
  }

  Reader r(in, path);
  Identity id;
  const uint32_t name_length = r.value<uint32_t>();
  if (name_length == 0 || name_length > kMaxSamplerName) {
    throw damaged("its sampler name has length " + std::to_string(name_length));
  }
  id.sampler.resize(name_length);
  r.get(id.sampler.data(), name_length);
  id.chains = r.value<int32_t>();
  id.dim = r.value<int32_t>();
  id.warmup = r.value<int32_t>();
  id.draws = r.value<int32_t>();
  id.thin = r.value<int32_t>();
  id.seed = r.value<uint64_t>();
  id.first_chain = r.value<int64_t>();
  id.done = r.value<int64_t>();
  id.kept = r.value<int32_t>();
  id.scalar_buffers = r.value<int32_t>();
  id.counter_buffers = r.value<int32_t>();
  id.flags = r.value<uint8_t>();
  id.columns = r.value<int32_t>();
  id.monitored = r.value<int32_t>();
  id.keep_last = r.value<int32_t>();

  // The identity must be this run's before any size from the file is trusted.
  const std::string sampler(sampler_name(settings.options.kind));
  const auto differs = [&](const std::string& what, const std::string& saved, const std::string& now) {
    return make_error(path, what + " is " + saved + " in the checkpoint but " + now + " in this run",
                      "Resume with the settings the checkpoint was written with");
  };
  if (id.sampler != sampler) {
    throw differs("the sampler", "'" + id.sampler + "'", sampler);
  }
  const std::pair<const char*, std::pair<int64_t, int64_t>> sizes[] = {
      {"the number of chains", {id.chains, settings.chains}},
      {"the number of parameters", {id.dim, dim}},
      {"warmup", {id.warmup, settings.warmup}},
      {"draws", {id.draws, settings.draws}},
      {"thin", {id.thin, settings.thin}},
  };
  for (const auto& [what, values] : sizes) {
    if (values.first != values.second) {
      throw differs(what, std::to_string(values.first), std::to_string(values.second));
    }
  }
  if (id.seed != settings.seed) {
    throw differs("the seed", std::to_string(id.seed), std::to_string(settings.seed));
  }
  if (id.first_chain != settings.first_chain) {
    throw differs("the first chain", std::to_string(id.first_chain), std::to_string(settings.first_chain));
  }
  const int64_t total = static_cast<int64_t>(id.warmup) + static_cast<int64_t>(id.draws) * id.thin;
  const bool warm = id.done >= id.warmup;
  const bool adapt_per_chain = !settings.step_size.has_value() && settings.adapt_per_chain;
  const StreamSettings& stream = settings.stream;
  const uint8_t expected_flags = static_cast<uint8_t>(
      (settings.options.kind == SamplerKind::mala ? kHasGrad : 0) |
      (settings.options.persistent ? kHasTangent : 0) | (adapt_per_chain ? kHasAdapt : 0) |
      (warm ? kHasWarmupCounters : 0) | (stream.enabled ? kHasStream : 0));
  const int32_t expected_columns = stream.enabled ? static_cast<int32_t>(stream.monitor.size()) : id.dim;
  if (id.done < 0 || id.done > total || id.kept < 0 || id.kept > id.draws ||
      id.kept != (warm ? (id.done - id.warmup) / id.thin : 0) || id.scalar_buffers != kScalarBuffers ||
      id.counter_buffers != kCounterBuffers || id.flags != expected_flags || id.columns != expected_columns ||
      id.monitored != (stream.enabled ? expected_columns : 0) ||
      id.keep_last != (stream.enabled ? stream.keep_last : 0)) {
    throw damaged("its counts of transitions (" + std::to_string(id.done) + ") and kept draws (" +
                  std::to_string(id.kept) + ") or its layout do not fit this run");
  }
  if (length != identity_bytes(id) + array_bytes(id)) {
    throw damaged("its payload has " + std::to_string(length) + " bytes, not the " +
                  std::to_string(identity_bytes(id) + array_bytes(id)) + " its run needs");
  }

  RunCheckpoint c;
  c.sampler = id.sampler;
  c.chains = id.chains;
  c.dim = id.dim;
  c.warmup = id.warmup;
  c.draws = id.draws;
  c.thin = id.thin;
  c.seed = id.seed;
  c.first_chain = id.first_chain;
  c.done = id.done;
  c.kept = id.kept;
  const size_t chains = static_cast<size_t>(id.chains);
  const size_t cd = chains * static_cast<size_t>(id.dim);
  c.shared = get_adaptation(r);
  EngineState& e = c.engine;
  r.array(e.theta, cd);
  r.array(e.grad, (id.flags & kHasGrad) ? cd : 0);
  r.array(e.tangent, (id.flags & kHasTangent) ? cd : 0);
  r.array(e.log_density, chains);
  r.array(e.scalars, chains * kScalarBuffers);
  r.array(e.counts, chains * kCounterBuffers);
  if (id.flags & kHasAdapt) {
    e.adapt.resize(chains);
    for (DualAveraging& a : e.adapt) {
      a = get_adaptation(r);
    }
  }
  if (id.flags & kHasWarmupCounters) {
    EngineCounters& n = c.at_warmup_end;
    r.array(n.accepted, chains);
    r.array(n.nonfinite, chains);
    r.array(n.floor_hits, chains);
    r.array(n.accept_prob_sum, chains);
    r.array(n.step_size, chains);
  }
  Draws& d = c.kept_draws;
  d.chains = id.chains;
  d.draws = id.draws;
  d.dim = id.columns;
  const size_t cells = chains * static_cast<size_t>(id.draws);
  const size_t columns = static_cast<size_t>(id.columns);
  d.values.assign(cells * columns, Real(0));
  const size_t kept = static_cast<size_t>(id.kept);
  for (size_t k = 0; k < chains; ++k) {
    r.get(d.values.data() + k * static_cast<size_t>(id.draws) * columns, kept * columns * sizeof(Real));
  }
  const auto rows = [&](auto& array) {
    using T = typename std::decay_t<decltype(array)>::value_type;
    array.assign(cells, T(0));
    for (size_t k = 0; k < chains; ++k) {
      r.get(array.data() + k * static_cast<size_t>(id.draws), kept * sizeof(T));
    }
  };
  rows(d.log_density);
  rows(d.accept_prob);
  rows(d.step_size);
  rows(d.accepted);
  rows(d.nonfinite);
  rows(d.floor_hits);
  c.seconds_warmup = r.value<double>();
  c.seconds_sampling = r.value<double>();
  if (id.flags & kHasStream) {
    DrawStream& st = c.stream;
    st.start(id.chains, id.dim, stream);
    std::vector<int32_t> monitored;
    r.array(monitored, static_cast<size_t>(id.monitored));
    if (std::vector<int>(monitored.begin(), monitored.end()) != stream.monitor) {
      throw differs("the monitored coordinates", "another list", "--monitor");
    }
    st.count = r.value<int64_t>();
    if (st.count != id.kept) {
      throw damaged("its running statistics count " + std::to_string(st.count) + " draws, not " +
                    std::to_string(id.kept));
    }
    r.array(st.mean, cd);
    r.array(st.m2, cd);
    r.array(st.last.values, cd * static_cast<size_t>(id.keep_last));
    r.array(st.last.log_density, chains * static_cast<size_t>(id.keep_last));
  }
  const uint64_t computed = r.checksum();
  uint64_t stored = 0;
  in.read(reinterpret_cast<char*>(&stored), sizeof stored);
  if (!in || stored != computed) {
    throw damaged("its checksum does not match its contents");
  }
  return c;
}

}  // namespace fmala::io
