#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "fmala/core/error.hpp"
#include "fmala/io/random_images.hpp"

namespace fmala::io {
namespace {

TEST(RandomImages, ShapeAndLabels) {
  const ClassificationData data = random_images(4, 3, 2, 5, 50, 7, 9);
  EXPECT_EQ(data.height, 4);
  EXPECT_EQ(data.width, 3);
  EXPECT_EQ(data.channels, 2);
  EXPECT_EQ(data.n_features, 24u);
  EXPECT_EQ(data.n_classes, 5);
  EXPECT_EQ(data.n_train(), 50u);
  EXPECT_EQ(data.n_test(), 7u);
  EXPECT_EQ(data.train_x.size(), 50u * 24);
  EXPECT_EQ(data.test_x.size(), 7u * 24);
  EXPECT_EQ(data.source, "random:4x3x2");
  for (const int label : data.train_y) {
    EXPECT_GE(label, 0);
    EXPECT_LT(label, 5);
  }
  // 50 labels from 5 classes: every class appears unless the stream is broken
  // (the chance that one class is missing is 5 · 0.8^50 ≈ 7e-5).
  for (int k = 0; k < 5; ++k) {
    EXPECT_NE(std::find(data.train_y.begin(), data.train_y.end(), k), data.train_y.end()) << k;
  }
}

TEST(RandomImages, PixelsAreStandardNormal) {
  // 100 images × 300 pixels: the mean of 30,000 N(0, 1) values has sd 0.0058,
  // the sample variance sd √(2 / 30,000) = 0.0082; both within 5 sd.
  const ClassificationData data = random_images(10, 10, 3, 10, 100, 0, 3);
  double sum = 0;
  double sum_sq = 0;
  for (const double v : data.train_x) {
    sum += v;
    sum_sq += v * v;
  }
  const double n = static_cast<double>(data.train_x.size());
  EXPECT_NEAR(sum / n, 0.0, 5 * 0.0058);
  EXPECT_NEAR(sum_sq / n, 1.0, 5 * 0.0082);
}

TEST(RandomImages, SameSeedSameData) {
  const ClassificationData a = random_images(2, 2, 1, 3, 10, 4, 17);
  const ClassificationData b = random_images(2, 2, 1, 3, 10, 4, 17);
  const ClassificationData c = random_images(2, 2, 1, 3, 10, 4, 18);
  EXPECT_EQ(a.train_x, b.train_x);
  EXPECT_EQ(a.test_y, b.test_y);
  EXPECT_NE(a.train_x, c.train_x);
  // 2 × 2 × 1 pixels: 10 training and 4 test images hold 40 and 16 values.
  ASSERT_EQ(a.test_x.size(), 16u);
  EXPECT_NE(std::vector<double>(a.train_x.begin(), a.train_x.begin() + 16), a.test_x)
      << "the splits draw from different streams";
}

TEST(RandomImages, ParsesSpec) {
  int h = 0, w = 0, c = 0;
  EXPECT_TRUE(parse_random_images_spec("random:32x16x3", "--data", h, w, c));
  EXPECT_EQ(h, 32);
  EXPECT_EQ(w, 16);
  EXPECT_EQ(c, 3);
  EXPECT_FALSE(parse_random_images_spec("fashion-mnist", "--data", h, w, c));
  for (const std::string bad : {"random:", "random:32x32", "random:32x32x3x1", "random:0x2x2",
                                "random:axbxc", "random:3x3x"}) {
    EXPECT_THROW(parse_random_images_spec(bad, "--data", h, w, c), Error) << bad;
  }
}

TEST(RandomImages, RejectsBadArguments) {
  EXPECT_THROW(random_images(0, 2, 1, 3, 10, 0, 1), Error);
  EXPECT_THROW(random_images(2, 2, 1, 1, 10, 0, 1), Error);
  EXPECT_THROW(random_images(2, 2, 1, 3, 0, 0, 1), Error);
}

}  // namespace
}  // namespace fmala::io
