// symflow export: write the weights of a training checkpoint as a small inference file.
//
//   symflow export --model out/run/model.safetensors --out models/kosc4-sym-p2t.safetensors
//
// Any task's checkpoint (k-osc or surge-simple; the task is read from the file).
// Keeps the model's tensors (weights and BatchNorm buffers, float32) and its model config, and
// drops what only training needs: the Adam moments (two more copies of the weights) and the
// training state. Provenance is kept in the metadata: "symflow_exported_from" (the source's
// file name) and the source's "symflow_train_state" (step, seed, options) when present. Any
// command that takes --model reads the result (eval, invert, inspect, demo); `train --resume`
// refuses it (no optimizer state). The written file is reloaded and compared tensor by tensor
// before the command reports success.
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "symflow/io/checkpoint.hpp"
#include "symflow/train/kosc_trainer.hpp"
#include "symflow/train/surge_trainer.hpp"

namespace {

using namespace symflow;

struct ExportArgs {
  std::string model, out;
};

/// "cnf-param2tok, k = 4, symmetric" / "surge-simple cnf-param2tok".
std::string describeModel(const models::KOscModelConfig& c) {
  return models::toString(c.kind) + ", k = " + std::to_string(c.k) + ", " + models::toString(c.variant);
}
std::string describeModel(const models::SurgeModelConfig& c) { return "surge-simple " + models::toString(c.kind); }

/// Exports a checkpoint of one task: load(path, meta) rebuilds its model.
template <class Load>
void exportWith(const ExportArgs& a, Load&& load) {
  namespace fs = std::filesystem;
  std::error_code ec;
  io::Metadata meta;
  auto model = cli::forOption("--model", [&] { return load(a.model, &meta); });
  io::Metadata out;
  out[train::kModelConfigKey] = json::dump(model->config().toJson());
  out["symflow_exported_from"] = fs::path(a.model).filename().string();
  if (const auto it = meta.find("symflow_train_state"); it != meta.end()) out["symflow_train_state"] = it->second;
  const auto parent = fs::path(a.out).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec) && !fs::create_directories(parent, ec))
    throw Error("--out " + a.out + ": cannot create the folder " + parent.string() + " (" + ec.message() + ")");
  io::saveCheckpoint<float>(a.out, *model, nullptr, out);
  // Read it back: the same tensors (weights and buffers), bit for bit.
  auto check = load(a.out, nullptr);
  const auto t0 = model->tensors(), t1 = check->tensors();
  Index count = 0;
  bool same = t0.size() == t1.size();
  for (std::size_t i = 0; same && i < t0.size(); ++i) {
    same = t0[i].name == t1[i].name && t0[i].size() == t1[i].size() &&
           std::equal(t0[i].value, t0[i].value + t0[i].size(), t1[i].value);
    count += t0[i].size();
  }
  require(same, a.out + ": the written tensors differ from the source's (disk problem?)");
  std::cout << "wrote " << a.out << ": " << describeModel(model->config()) << ", " << count << " numbers, "
            << fs::file_size(a.out) << " bytes\n";
}

void run(const ExportArgs& a) {
  require(!a.model.empty(), "--model FILE is required (a checkpoint written by symflow train)");
  require(!a.out.empty(), "--out FILE.safetensors is required");
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(a.out, ec) && fs::exists(a.model, ec) && fs::equivalent(a.out, a.model, ec))
    throw Error("--out " + a.out + " is the --model file itself; choose another name");
  if (fs::is_directory(a.out, ec)) throw Error("--out " + a.out + ": is a folder; give a file name");
  if (cli::forOption("--model", [&] { return train::readModelTask(a.model); }) == "surge-simple")
    exportWith(a, [](const std::string& p, io::Metadata* m) { return train::loadSurgeModel(p, m); });
  else
    exportWith(a, [](const std::string& p, io::Metadata* m) { return train::loadKOscModel(p, m); });
}

symflow::cli::RegisterCommand reg("export", "Write a checkpoint's weights (no optimizer state) as a small model file",
                                  [](CLI::App& app) {
                                    auto a = std::make_shared<ExportArgs>();
                                    app.add_option("--model", a->model, "Checkpoint written by symflow train");
                                    app.add_option("--out", a->out, "Model file to write (.safetensors)");
                                    app.callback([a] { run(*a); });
                                  });

}  // namespace
