// symflow/io/checkpoint.hpp - save and restore a model, its Adam optimizer and training state.
//
// A checkpoint is one safetensors file (safetensors.hpp, format in docs/checkpoint-format.md):
//   tensors   every tensor of model.visitParams("", f), under its PyTorch name and shape,
//             trainable or not (BatchNorm running statistics are saved too), dtype of S;
//             with an optimizer: "optim.adam.m" and "optim.adam.v", shape (n), the moments
//             over the flat parameter buffer (ParamStore order), n = sum of trainable sizes.
//   metadata  "symflow.format" = "symflow-checkpoint-1", "symflow.dtype" = "F32" | "F64",
//             with an optimizer "optim.adam.step" (decimal) and "optim.adam.config" (JSON,
//             informational), the two checksums written by the safetensors writer, and
//             the caller's own string pairs (model config as JSON, training step, Rng states
//             via encodeRngState, data-stream position, ...). The "symflow." and "optim."
//             key and tensor-name prefixes are reserved.
//
// saveCheckpoint writes atomically (temporary file, fsync, rename, fsync directory): a crash
// leaves either the previous checkpoint or the new one. loadCheckpoint validates the whole
// file, the model's tensor names, shapes and dtypes, and the optimizer size before it
// changes anything, then restores weights, buffers, moments and step bit-exactly; it
// returns the caller's metadata (without the reserved keys). Any problem throws
// symflow::Error naming the file and the problem; model and optimizer are then unchanged.
//
// loadWeights reads only the model tensors of any safetensors file (e.g. a PyTorch
// state_dict saved with safetensors.torch.save_file), checking checksums if present.
#pragma once
#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/io/json.hpp"
#include "symflow/io/safetensors.hpp"
#include "symflow/optim/adam.hpp"

namespace symflow::io {

inline const std::string kCheckpointFormatKey = "symflow.format";
inline const std::string kCheckpointFormat = "symflow-checkpoint-1";
inline const std::string kCheckpointDTypeKey = "symflow.dtype";
inline const std::string kAdamStepKey = "optim.adam.step";
inline const std::string kAdamConfigKey = "optim.adam.config";
inline const std::string kAdamFirstMomentName = "optim.adam.m";
inline const std::string kAdamSecondMomentName = "optim.adam.v";

struct CheckpointLoadOptions : LoadOptions {
  /// Require symflow's format key and checksums (off for loadWeights on foreign files).
  bool requireSymflowFile = true;
};

/// True for metadata keys and tensor names reserved by the checkpoint format.
inline bool isReservedCheckpointName(const std::string& name) {
  return name.compare(0, 8, "symflow.") == 0 || name.compare(0, 6, "optim.") == 0;
}

// ---- metadata value helpers ---------------------------------------------------------

/// Strict decimal int64 ("-12"; no spaces, no '+', no leading zeros beyond "0").
inline std::int64_t parseInt64(const std::string& text, const std::string& what) {
  std::int64_t v = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  const auto r = std::from_chars(first, last, v);
  const bool leadingZero = text.size() > 1 && (text[0] == '0' || (text[0] == '-' && text[1] == '0'));
  if (text.empty() || r.ec != std::errc() || r.ptr != last || leadingZero)
    throw Error(what + ": '" + text + "' is not a decimal integer");
  return v;
}
inline const std::string& metadataString(const Metadata& meta, const std::string& key) {
  const auto it = meta.find(key);
  require(it != meta.end(), "checkpoint metadata has no key '" + key + "'");
  return it->second;
}
inline std::int64_t metadataInt64(const Metadata& meta, const std::string& key) {
  return parseInt64(metadataString(meta, key), "checkpoint metadata '" + key + "'");
}

/// An Rng state as text: four 16-digit lowercase hex words separated by spaces.
inline std::string encodeRngState(const Rng& rng) {
  std::string s;
  for (std::size_t i = 0; i < 4; ++i) s += (i ? " " : "") + hex64(rng.state()[i]);
  return s;
}
/// Inverse of encodeRngState (strict; an all-zero state, invalid for xoshiro, is refused).
inline Rng::State decodeRngState(const std::string& text, const std::string& what = "Rng state") {
  Rng::State st{};
  bool ok = text.size() == 4 * 16 + 3;
  for (std::size_t i = 0; ok && i < 4; ++i) {
    ok = (i == 0 || text[i * 17 - 1] == ' ') && parseHex64(std::string_view(text).substr(i * 17, 16), st[i]);
  }
  if (!ok) throw Error(what + ": '" + text + "' is not four 16-digit hex words");
  if ((st[0] | st[1] | st[2] | st[3]) == 0) throw Error(what + ": all-zero state is invalid");
  return st;
}

namespace detail {
template <class S> Index trainableSize(const std::vector<TensorRef<S>>& tensors) {
  Index n = 0;
  for (const auto& t : tensors)
    if (t.trainable) n += t.size();
  return n;
}
template <class S> void checkModelNames(const std::vector<TensorRef<S>>& tensors, const std::string& what) {
  for (const auto& t : tensors)
    require(!isReservedCheckpointName(t.name),
            what + ": model tensor name '" + t.name + "' uses a reserved prefix (symflow. / optim.)");
}
inline std::string adamConfigJson(const optim::AdamConfig& c) {
  json::Value v = json::Value::object();
  v.set("lr", c.lr).set("beta1", c.beta1).set("beta2", c.beta2).set("eps", c.eps);
  v.set("weight_decay", c.weightDecay).set("decay", c.decay == optim::WeightDecay::L2 ? "l2" : "decoupled");
  return json::dump(v);
}
}  // namespace detail

/// Writes model (+ optimizer state when adam != nullptr) + metadata to path, atomically.
/// With adam == nullptr name the scalar: saveCheckpoint<float>(path, model, nullptr, meta).
template <class S, class Model>
void saveCheckpoint(const std::string& path, Model& model, const optim::Adam<S>* adam,
                    const Metadata& metadata = {}) {
  const std::string what = "saveCheckpoint '" + path + "'";
  const auto tensors = listTensors<S>(model);
  detail::checkModelNames(tensors, what);
  for (const auto& [key, value] : metadata)
    require(!isReservedCheckpointName(key), what + ": metadata key '" + key + "' uses a reserved prefix (symflow. / optim.)");

  std::vector<TensorData> data;
  for (const auto& t : tensors) data.push_back(tensorData(t));
  Metadata meta = metadata;
  meta[kCheckpointFormatKey] = kCheckpointFormat;
  meta[kCheckpointDTypeKey] = dtypeName(dtypeOf<S>());
  if (adam) {
    const Index n = detail::trainableSize(tensors);
    require(adam->size() == n, what + ": the optimizer has " + std::to_string(adam->size()) +
                                   " parameters, the model's trainable tensors " + std::to_string(n));
    data.push_back(tensorData<S>(kAdamFirstMomentName, {n}, adam->firstMoment().data()));
    data.push_back(tensorData<S>(kAdamSecondMomentName, {n}, adam->secondMoment().data()));
    meta[kAdamStepKey] = std::to_string(adam->stepCount());
    meta[kAdamConfigKey] = detail::adamConfigJson(adam->config());
  }
  writeSafetensors(path, data, meta);
}

/// Restores model (+ optimizer when adam != nullptr) from path; returns the caller's metadata.
/// With adam == nullptr name the scalar: loadCheckpoint<float>(path, model, nullptr).
template <class S, class Model>
Metadata loadCheckpoint(const std::string& path, Model& model, optim::Adam<S>* adam,
                        const CheckpointLoadOptions& options = {}) {
  ReadOptions ropt;
  ropt.requireChecksum = options.requireSymflowFile;
  const auto file = SafetensorsFile::read(path, ropt);
  const SafetensorsView& view = file.view();
  const Metadata& meta = view.metadata();

  if (options.requireSymflowFile) {
    const auto it = meta.find(kCheckpointFormatKey);
    if (it == meta.end()) view.fail("not a symflow checkpoint (no '" + kCheckpointFormatKey + "' metadata)");
    if (it->second != kCheckpointFormat)
      view.fail("unsupported checkpoint format '" + it->second + "' (this build reads '" + kCheckpointFormat + "')");
  }
  const auto tensors = listTensors<S>(model);
  detail::checkModelNames(tensors, "loadCheckpoint '" + path + "'");

  // Validate the optimizer state completely before touching anything.
  const TensorInfo *mInfo = nullptr, *vInfo = nullptr;
  std::int64_t step = 0;
  if (adam) {
    const Index n = detail::trainableSize(tensors);
    require(adam->size() == n, "loadCheckpoint '" + path + "': the optimizer has " + std::to_string(adam->size()) +
                                   " parameters, the model's trainable tensors " + std::to_string(n));
    mInfo = view.find(kAdamFirstMomentName);
    vInfo = view.find(kAdamSecondMomentName);
    if (!mInfo || !vInfo || !meta.count(kAdamStepKey))
      view.fail("no optimizer state ('" + kAdamFirstMomentName + "', '" + kAdamSecondMomentName + "', '" +
                kAdamStepKey + "')");
    for (const TensorInfo* info : {mInfo, vInfo}) {
      if (info->shape != std::vector<std::int64_t>{std::int64_t(n)})
        view.fail("optimizer state '" + info->name + "' has shape " + shapeString(info->shape) + ", expected (" +
                  std::to_string(n) + ") for this model");
      view.checkLoadable<S>(*info, options.allowDtypeConversion);
    }
    try {
      step = parseInt64(meta.at(kAdamStepKey), kAdamStepKey);
    } catch (const Error& e) {
      view.fail(e.what());
    }
    if (step < 0) view.fail(kAdamStepKey + " is negative");
  }

  // Model tensors: validated completely, then copied.
  loadTensors(view, tensors, options, {"optim."});
  if (adam) {
    Vec<S> m(adam->size()), v(adam->size());
    view.copyTensor(*mInfo, m.data(), std::uint64_t(m.size()), options.allowDtypeConversion);
    view.copyTensor(*vInfo, v.data(), std::uint64_t(v.size()), options.allowDtypeConversion);
    adam->setState(step, m, v);
  }

  Metadata user;
  for (const auto& [key, value] : meta)
    if (!isReservedCheckpointName(key)) user.emplace(key, value);
  return user;
}

/// Loads only the model tensors of any safetensors file (optimizer tensors are ignored,
/// checksums verified when present). Returns the file's non-reserved metadata.
template <class S, class Model>
Metadata loadWeights(const std::string& path, Model& model, const LoadOptions& options = {}) {
  CheckpointLoadOptions o;
  static_cast<LoadOptions&>(o) = options;
  o.requireSymflowFile = false;
  return loadCheckpoint<S>(path, model, static_cast<optim::Adam<S>*>(nullptr), o);
}

}  // namespace symflow::io
