// train/batch_producer.hpp: batches in step order with the content of direct rendering, clean
// shutdown in every state, render exceptions reaching the consumer, the wait statistics.
#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>

#include "symflow/models/surge_model.hpp"
#include "symflow/train/batch_producer.hpp"

using namespace symflow;

namespace {

models::SurgeModelConfig tinySurge() {
  models::SurgeModelConfig c;
  c.sampleRate = 8000;
  c.seconds = 0.1;
  c.feature.mels = 16;
  return c;
}

}  // namespace

TEST_CASE("batch producer: the same surge batches as direct rendering, in step order") {
  const auto cfg = tinySurge();
  const std::uint64_t seed = 17;
  const Index B = 5;
  train::BatchProducer<models::SurgeBatch> producer(
      [renderer = std::make_shared<models::SurgeBatchRenderer>(cfg), seed](std::int64_t s) {
        return renderer->render(seed, s, B);
      },
      /*firstStep=*/3, /*capacity=*/2);
  models::SurgeBatchRenderer direct(cfg);
  for (std::int64_t s = 3; s < 9; ++s) {
    const models::SurgeBatch got = producer.next();
    const models::SurgeBatch want = direct.render(seed, s, B);
    REQUIRE(got.params.cols() == B);
    CHECK(got.params == want.params);
    CHECK(got.features == want.features);
  }
  // Different steps give different batches.
  CHECK(direct.render(seed, 3, B).params != direct.render(seed, 4, B).params);
  CHECK(producer.consumed() == 6);
  const double f = producer.waitFraction();
  CHECK(f >= 0.0);
  CHECK(f <= 1.0);
  producer.stop();
  CHECK_THROWS_WITH_AS(producer.next(), doctest::Contains("after stop"), Error);
}

TEST_CASE("batch producer: shutdown without deadlock with a full queue, an unread queue, or at once") {
  std::atomic<int> rendered{0};
  auto render = [&](std::int64_t s) {
    ++rendered;
    return s;
  };
  {
    train::BatchProducer<std::int64_t> p(render, 0, 3);
    CHECK(p.next() == 0);
    CHECK(p.next() == 1);
    // the producer fills the queue and blocks; the destructor must wake and join it
  }
  { train::BatchProducer<std::int64_t> p(render, 0, 1); }  // stopped before reading anything
  {
    train::BatchProducer<std::int64_t> p(render, 10, 2);
    CHECK(p.next() == 10);
    p.stop();
    p.stop();  // idempotent
  }
  CHECK(rendered.load() >= 3);
}

TEST_CASE("batch producer: an exception in render reaches the consumer after the earlier batches") {
  train::BatchProducer<int> p(
      [](std::int64_t s) -> int {
        if (s == 3) throw std::runtime_error("render failed at step 3");
        return int(s) * 10;
      },
      0, 4);
  CHECK(p.next() == 0);
  CHECK(p.next() == 10);
  CHECK(p.next() == 20);
  CHECK_THROWS_WITH_AS(p.next(), "render failed at step 3", std::runtime_error);
  CHECK_THROWS_AS(p.next(), std::runtime_error);  // it stays failed
}

TEST_CASE("batch producer: refuses a zero capacity") {
  CHECK_THROWS_WITH_AS(train::BatchProducer<int>([](std::int64_t) { return 0; }, 0, 0),
                       doctest::Contains("at least one batch"), Error);
}
