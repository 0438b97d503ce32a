// Pictures read back from their PNG files: the brightest pixel of a map lies at the point's position in mm
// through the drawn axis mapping, the colour bar runs from viridis' first colour (#440154) to its last
// (#fde725) with rising lightness, a volume shows its three projections and one panel per z slice, plots put
// a peak where it is, nothing touches the canvas' edge, and bad input is refused naming the file. Expected
// positions come from the grid's definition (centre of pixel i = origin + i * pixel), not from the code.
#include "mpi/host/image_output.hpp"
#include "mpi/host/profile_output.hpp"

#include <cairo.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpi::host {
namespace {

namespace fs = std::filesystem;

struct Rgb {
  int r = 0, g = 0, b = 0;
  [[nodiscard]] double lightness() const { return 0.2126 * r + 0.7152 * g + 0.0722 * b; }
  [[nodiscard]] bool white() const { return r == 255 && g == 255 && b == 255; }
  [[nodiscard]] bool near(const Rgb& o, int tolerance) const {
    return std::abs(r - o.r) <= tolerance && std::abs(g - o.g) <= tolerance && std::abs(b - o.b) <= tolerance;
  }
};
constexpr Rgb kViridisLow{0x44, 0x01, 0x54}, kViridisHigh{0xfd, 0xe7, 0x25};
constexpr Rgb kBlue{31, 119, 180}, kOrange{255, 127, 14};  // the first two line colours

class Png {
 public:
  explicit Png(const fs::path& file) {
    cairo_surface_t* s = cairo_image_surface_create_from_png(file.c_str());
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
      cairo_surface_destroy(s);
      throw std::runtime_error(file.string() + ": not a readable PNG");
    }
    width = cairo_image_surface_get_width(s);
    height = cairo_image_surface_get_height(s);
    const int stride = cairo_image_surface_get_stride(s);
    const unsigned char* data = cairo_image_surface_get_data(s);
    pixels_.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(height));
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        std::uint32_t word = 0;
        std::copy_n(data + static_cast<std::ptrdiff_t>(y) * stride + 4 * x, 4, reinterpret_cast<unsigned char*>(&word));
        pixels_[static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)] = word;
      }
    }
    cairo_surface_destroy(s);
  }
  [[nodiscard]] Rgb at(int x, int y) const {
    const std::uint32_t w = pixels_.at(static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x));
    return Rgb{static_cast<int>((w >> 16) & 0xff), static_cast<int>((w >> 8) & 0xff), static_cast<int>(w & 0xff)};
  }
  // The lightest pixel inside a plot area (its canvas pixels).
  struct Hit {
    int x = -1, y = -1;
    Rgb colour;
  };
  [[nodiscard]] Hit lightest(const PlotArea& a) const {
    Hit best;
    double l = -1;
    for (int y = static_cast<int>(a.top); y < static_cast<int>(a.top + a.height); ++y) {
      for (int x = static_cast<int>(a.left); x < static_cast<int>(a.left + a.width); ++x) {
        if (at(x, y).lightness() > l) l = at(x, y).lightness(), best = Hit{x, y, at(x, y)};
      }
    }
    return best;
  }
  [[nodiscard]] bool contains(const PlotArea& a, const Rgb& colour, int tolerance) const {
    for (int y = static_cast<int>(a.top); y < static_cast<int>(a.top + a.height); ++y) {
      for (int x = static_cast<int>(a.left); x < static_cast<int>(a.left + a.width); ++x) {
        if (at(x, y).near(colour, tolerance)) return true;
      }
    }
    return false;
  }
  // The canvas' outer `band` pixels are all background: nothing drawn runs off the canvas.
  [[nodiscard]] bool border_is_blank(int band) const {
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        const bool edge = x < band || y < band || x >= width - band || y >= height - band;
        if (edge && !at(x, y).white()) return false;
      }
    }
    return true;
  }
  int width = 0, height = 0;

 private:
  std::vector<std::uint32_t> pixels_;
};

class ImageOutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpi_image_output_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

bool inside(const PlotArea& a, int width, int height) {
  return a.left >= 0 && a.top >= 0 && a.left + a.width <= width && a.top + a.height <= height;
}
bool overlap(const PlotArea& a, const PlotArea& b) {
  return a.left < b.left + b.width && b.left < a.left + a.width && a.top < b.top + b.height && b.top < a.top + a.height;
}

// 21 x 15 pixels of 0.5 mm x 0.8 mm, first centre (-5, -5.6) mm; the point at pixel (14, 3) is at
// x = -5 + 14 * 0.5 = 2 mm, y = -5.6 + 3 * 0.8 = -3.2 mm.
GridImage map_with_point() {
  GridImage image;
  image.grid.counts = {21, 15, 1};
  image.grid.pixel_m = Eigen::Vector3d(0.5e-3, 0.8e-3, 0.0);
  image.grid.origin_m = Eigen::Vector3d(-5e-3, -5.6e-3, 0.0);
  image.values.assign(21 * 15, 0.0);
  for (std::size_t i = 0; i < image.values.size(); ++i) image.values[i] = 0.01 * static_cast<double>(i % 7);  // a faint texture
  image.values[14 + 21 * 3] = 10.0;
  return image;
}

TEST_F(ImageOutputTest, BrightestPixelOfAMapLiesAtThePointInMillimetres) {
  const ImageFigure f = write_image_png(map_with_point(), dir_ / "map.png", "point at (2, -3.2) mm", "ug Fe / pixel");
  const Png png(dir_ / "map.png");
  ASSERT_EQ(png.width, f.width);
  ASSERT_EQ(png.height, f.height);
  ASSERT_EQ(f.panels.size(), 1U);
  const PlotArea& p = f.panels[0];
  // The axes run over the grid's outer pixel edges.
  EXPECT_NEAR(p.x_min, -5.25, 1e-12);
  EXPECT_NEAR(p.x_max, 5.25, 1e-12);
  EXPECT_NEAR(p.y_min, -6.0, 1e-12);
  EXPECT_NEAR(p.y_max, 6.0, 1e-12);
  const Png::Hit hot = png.lightest(p);
  EXPECT_NEAR(p.x_of(hot.x + 0.5), 2.0, 0.25 + 1e-9);  // within half a pixel
  EXPECT_NEAR(p.y_of(hot.y + 0.5), -3.2, 0.4 + 1e-9);
  EXPECT_TRUE(hot.colour.near(kViridisHigh, 2)) << hot.colour.r << "," << hot.colour.g << "," << hot.colour.b;
  // Pixel (0, 0) holds the lowest value: the map's bottom-left corner is drawn in the low colour.
  const Rgb corner = png.at(static_cast<int>(p.left) + 1, static_cast<int>(p.top + p.height) - 2);
  EXPECT_TRUE(corner.near(kViridisLow, 2)) << corner.r << "," << corner.g << "," << corner.b;
  EXPECT_DOUBLE_EQ(f.low, 0.0);
  EXPECT_DOUBLE_EQ(f.high, 10.0);
}

TEST_F(ImageOutputTest, ColourBarRunsMonotonicallyFromTheLowToTheHighColour) {
  const ImageFigure f = write_image_png(map_with_point(), dir_ / "map.png", "bar");
  const Png png(dir_ / "map.png");
  const PlotArea& bar = f.colour_bar;
  ASSERT_GT(bar.height, 100);
  EXPECT_DOUBLE_EQ(bar.y_min, 0.0);
  EXPECT_DOUBLE_EQ(bar.y_max, 10.0);
  const int x = static_cast<int>(bar.left + bar.width / 2);
  const int bottom = static_cast<int>(bar.top + bar.height) - 1, top = static_cast<int>(bar.top);
  EXPECT_TRUE(png.at(x, bottom).near(kViridisLow, 4));
  EXPECT_TRUE(png.at(x, top).near(kViridisHigh, 4));
  double previous = -1;
  for (int y = bottom; y >= top; --y) {
    const double l = png.at(x, y).lightness();
    EXPECT_GE(l, previous - 1.0) << "row " << y;  // rounding to 8 bits may step back by less than one level
    previous = std::max(previous, l);
  }
  EXPECT_GT(png.at(x, top).lightness() - png.at(x, bottom).lightness(), 150.0);
}

TEST_F(ImageOutputTest, ColourMapIsViridisFromEndToEnd) {
  const auto low = colour_map(0.0), high = colour_map(1.0), below = colour_map(-3.0), nan = colour_map(std::nan(""));
  EXPECT_NEAR(low[0] * 255, 0x44, 1e-9);
  EXPECT_NEAR(low[1] * 255, 0x01, 1e-9);
  EXPECT_NEAR(low[2] * 255, 0x54, 1e-9);
  EXPECT_NEAR(high[0] * 255, 0xfd, 1e-9);
  EXPECT_NEAR(high[1] * 255, 0xe7, 1e-9);
  EXPECT_NEAR(high[2] * 255, 0x25, 1e-9);
  EXPECT_EQ(below, low);
  EXPECT_EQ(nan, low);
  double previous = -1;
  for (int k = 0; k <= 1000; ++k) {
    const auto c = colour_map(k / 1000.0);
    const double l = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    EXPECT_GT(l, previous) << k;
    previous = l;
  }
}

// 9 x 7 x 5 voxels of 1 mm, first centre (-4, -3, -2) mm; the hot voxel (6, 2, 3) is at (2, -1, 1) mm.
TEST_F(ImageOutputTest, VolumeShowsThreeProjectionsAndOneLabelledPanelPerSlice) {
  GridImage image;
  image.grid.counts = {9, 7, 5};
  image.grid.pixel_m = Eigen::Vector3d::Constant(1e-3);
  image.grid.origin_m = Eigen::Vector3d(-4e-3, -3e-3, -2e-3);
  image.values.assign(9 * 7 * 5, 0.0);
  image.values[6 + 9 * (2 + 7 * 3)] = 4.0;
  const ImageFigure f = write_image_png(image, dir_ / "volume.png", "volume", "ug Fe / voxel");
  const Png png(dir_ / "volume.png");
  ASSERT_EQ(f.projections, 3U);
  ASSERT_EQ(f.slices, 5U);
  ASSERT_EQ(f.panels.size(), 8U);
  const std::array<std::array<double, 2>, 3> expected{{{2, -1}, {2, 1}, {-1, 1}}};  // xy, xz, yz
  const std::array<const char*, 3> names{"xy", "xz", "yz"};
  for (std::size_t k = 0; k < 3; ++k) {
    const PlotArea& p = f.panels[k];
    EXPECT_EQ(p.name, names[k]);
    const Png::Hit hot = png.lightest(p);
    EXPECT_NEAR(p.x_of(hot.x + 0.5), expected[k][0], 0.5 + 1e-9) << p.name;
    EXPECT_NEAR(p.y_of(hot.y + 0.5), expected[k][1], 0.5 + 1e-9) << p.name;
    EXPECT_TRUE(hot.colour.near(kViridisHigh, 2)) << p.name;
  }
  for (std::size_t k = 0; k < 5; ++k) {
    const PlotArea& p = f.panels[3 + k];
    EXPECT_EQ(p.name, "z = " + std::to_string(static_cast<int>(k) - 2) + " mm");
    EXPECT_NEAR(p.x_min, -4.5, 1e-12);
    EXPECT_NEAR(p.y_max, 3.5, 1e-12);
    // Only slice z = 1 mm holds the hot voxel; each panel is drawn where the layout says (no white inside).
    const Png::Hit hot = png.lightest(p);
    EXPECT_EQ(hot.colour.near(kViridisHigh, 2), k == 3) << p.name;
    EXPECT_FALSE(png.contains(p, Rgb{255, 255, 255}, 0)) << p.name;
    if (k == 3) {
      EXPECT_NEAR(p.x_of(hot.x + 0.5), 2.0, 0.5 + 1e-9);
      EXPECT_NEAR(p.y_of(hot.y + 0.5), -1.0, 0.5 + 1e-9);
    }
  }
  for (std::size_t a = 0; a < f.panels.size(); ++a) {
    EXPECT_TRUE(inside(f.panels[a], f.width, f.height)) << f.panels[a].name;
    EXPECT_FALSE(overlap(f.panels[a], f.colour_bar)) << f.panels[a].name;
    for (std::size_t b = a + 1; b < f.panels.size(); ++b) EXPECT_FALSE(overlap(f.panels[a], f.panels[b])) << f.panels[a].name << " / " << f.panels[b].name;
  }
  EXPECT_TRUE(png.border_is_blank(3));
}

TEST_F(ImageOutputTest, NothingIsDrawnOutsideTheCanvas) {
  GridImage tiny;  // 2 x 2 pixels with a title and a unit far wider than the map
  tiny.grid.counts = {2, 2, 1};
  tiny.grid.pixel_m = Eigen::Vector3d(1e-3, 1e-3, 0);
  tiny.values = {1, 2, 3, 4};
  const std::string title(120, 'W');
  for (const GridImage& image : {map_with_point(), tiny}) {
    const ImageFigure f = write_image_png(image, dir_ / "canvas.png", title, "particles per cubic millimetre");
    const Png png(dir_ / "canvas.png");
    EXPECT_TRUE(png.border_is_blank(3));
    for (const PlotArea& p : f.panels) EXPECT_TRUE(inside(p, f.width, f.height));
    EXPECT_TRUE(inside(f.colour_bar, f.width, f.height));
  }
  PlotSeries s{"a very long legend entry for the first series", {-1, 0, 1}, {1, 3, 2}};
  PlotSeries t{"second", {-1, 0, 1}, {2, 1, 0}};
  const LinePlotFigure plot = write_line_plot_png({s, t}, PlotLabels{title, "x (mm)", "value (a.u.)", true}, dir_ / "plot.png");
  const Png png(dir_ / "plot.png");
  EXPECT_TRUE(png.border_is_blank(3));
  EXPECT_TRUE(inside(plot.area, plot.width, plot.height));
  EXPECT_TRUE(inside(plot.legend, plot.width, plot.height));
}

// A triangle peaking at x = 3 mm with value 5, sampled every 0.25 mm over [-10, 10] mm.
PlotSeries triangle(const std::string& label, double peak_mm, double peak) {
  PlotSeries s{label, {}, {}};
  for (int i = 0; i <= 80; ++i) {
    const double x = -10 + 0.25 * i;
    s.x.push_back(x);
    s.y.push_back(std::max(0.0, peak - 2.0 * std::abs(x - peak_mm)));
  }
  return s;
}

TEST_F(ImageOutputTest, LinePlotPutsThePeakWhereItIsAndALegendOnlyForSeveralSeries) {
  const LinePlotFigure one = write_line_plot_png({triangle("a", 3.0, 5.0)}, PlotLabels{"one", "x (mm)", "value", true}, dir_ / "one.png");
  EXPECT_EQ(one.legend.width, 0.0);
  EXPECT_NEAR(one.area.x_min, -10.0, 1e-12);
  EXPECT_NEAR(one.area.x_max, 10.0, 1e-12);
  {
    const Png png(dir_ / "one.png");
    // The highest pixel of the line's colour is the peak.
    int top_y = png.height, top_x = -1;
    for (int y = static_cast<int>(one.area.top); y < static_cast<int>(one.area.top + one.area.height) && top_x < 0; ++y) {
      for (int x = static_cast<int>(one.area.left); x < static_cast<int>(one.area.left + one.area.width); ++x) {
        if (png.at(x, y).near(kBlue, 40)) {
          top_y = y, top_x = x;
          break;
        }
      }
    }
    ASSERT_GE(top_x, 0);
    const double mm_per_px = (one.area.x_max - one.area.x_min) / one.area.width;
    const double value_per_px = (one.area.y_max - one.area.y_min) / one.area.height;
    EXPECT_NEAR(one.area.x_of(top_x + 0.5), 3.0, 3 * mm_per_px);
    EXPECT_NEAR(one.area.y_of(top_y + 0.5), 5.0, 3 * value_per_px);
  }
  const LinePlotFigure two = write_line_plot_png({triangle("a", 3.0, 5.0), triangle("b", -4.0, 2.0)}, PlotLabels{"two", "x (mm)", "value", true},
                                                 dir_ / "two.png");
  ASSERT_GT(two.legend.width, 0.0);
  const Png png(dir_ / "two.png");
  EXPECT_TRUE(png.contains(two.legend, kBlue, 10));
  EXPECT_TRUE(png.contains(two.legend, kOrange, 10));
}

TEST_F(ImageOutputTest, ProfileShowsBothScanDirectionsWithALegend) {
  recon::Profile1D p;
  p.first_pixel_centre_m = -5e-3;
  p.pixel_m = 0.5e-3;
  for (int i = 0; i < 21; ++i) {
    p.values.push_back(i == 14 ? 8.0 : 1.0);  // x = -5 + 7 = 2 mm
    p.rising.push_back(i == 14 ? 9.0 : 1.0);
    p.falling.push_back(i == 14 ? 7.0 : 1.0);
  }
  const LinePlotFigure f = write_profile_png(p, dir_ / "profile.png", "profile");
  EXPECT_GT(f.legend.width, 0.0);
  EXPECT_NEAR(f.area.x_min, -5.0, 1e-12);
  EXPECT_NEAR(f.area.x_max, 5.0, 1e-12);
  EXPECT_LE(f.area.y_min, 0.0);  // the value axis reaches 0
  EXPECT_GE(f.area.y_max, 9.0);
  p.rising.clear();
  p.falling.clear();
  EXPECT_EQ(write_profile_png(p, dir_ / "profile.png", "profile").legend.width, 0.0);
}

TEST_F(ImageOutputTest, OneImagedAxisIsDrawnAsAPlotOverThatAxis) {
  GridImage line;
  line.grid.counts = {1, 11, 1};
  line.grid.pixel_m = Eigen::Vector3d(0, 2e-3, 0);
  line.grid.origin_m = Eigen::Vector3d(0, -10e-3, 0);
  line.values.assign(11, 0.0);
  line.values[7] = 3.0;  // y = -10 + 14 = 4 mm
  const ImageFigure f = write_image_png(line, dir_ / "line.png", "line");
  ASSERT_EQ(f.panels.size(), 1U);
  EXPECT_NEAR(f.panels[0].x_min, -10.0, 1e-12);  // pixel centres from -10 to 10 mm
  EXPECT_NEAR(f.panels[0].x_max, 10.0, 1e-12);
  EXPECT_EQ(f.slices, 0U);
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no std::invalid_argument";
}

TEST_F(ImageOutputTest, BadInputIsRefusedNamingTheFile) {
  const fs::path file = dir_ / "bad.png";
  GridImage empty;
  EXPECT_EQ(error_of([&] { write_image_png(empty, file, "t"); }).rfind(file.string() + ": empty image", 0), 0U);
  GridImage short_image = map_with_point();
  short_image.values.pop_back();
  EXPECT_NE(error_of([&] { write_image_png(short_image, file, "t"); }).find("314 values for a grid of 315 pixels"), std::string::npos);
  GridImage with_nan = map_with_point();
  with_nan.values[1 + 21 * 2] = std::nan("");  // x = -4.5 mm, y = -4 mm
  const std::string nan_error = error_of([&] { write_image_png(with_nan, file, "t"); });
  EXPECT_EQ(nan_error.rfind(file.string() + ": 1 pixel(s) not finite", 0), 0U) << nan_error;
  EXPECT_NE(nan_error.find("x = -4.5, y = -4, z = 0 mm"), std::string::npos) << nan_error;
  GridImage with_inf = map_with_point();
  with_inf.values[0] = std::numeric_limits<double>::infinity();
  EXPECT_NE(error_of([&] { write_image_png(with_inf, file, "t"); }).find("not finite"), std::string::npos);
  EXPECT_FALSE(fs::exists(file));  // nothing written for refused input

  const fs::path unwritable = dir_ / "no such folder" / "map.png";
  EXPECT_EQ(error_of([&] { write_image_png(map_with_point(), unwritable, "t"); }).rfind(unwritable.string() + ": cannot write PNG", 0), 0U);
  EXPECT_EQ(error_of([&] { write_line_plot_png({triangle("a", 0, 1)}, PlotLabels{}, unwritable); }).rfind(unwritable.string() + ": cannot write PNG", 0),
            0U);

  EXPECT_NE(error_of([&] { write_line_plot_png({}, PlotLabels{}, file); }).find("without series"), std::string::npos);
  EXPECT_NE(error_of([&] { write_line_plot_png({PlotSeries{"s", {1, 2}, {1}}}, PlotLabels{}, file); }).find("2 x values but 1 y values"),
            std::string::npos);
  const double nan = std::nan("");
  EXPECT_NE(error_of([&] { write_line_plot_png({PlotSeries{"s", {1, 2}, {nan, nan}}}, PlotLabels{}, file); }).find("no finite value"),
            std::string::npos);
  EXPECT_NE(error_of([&] { write_line_plot_png({PlotSeries{"s", {1, nan}, {1, 2}}}, PlotLabels{}, file); }).find("x[1] is not finite"),
            std::string::npos);
  EXPECT_NE(error_of([&] { write_profile_png(recon::Profile1D{}, file, "t"); }).find("empty profile"), std::string::npos);
  recon::Profile1D unsampled;
  unsampled.pixel_m = 1e-3;
  unsampled.values = {nan, nan};
  EXPECT_NE(error_of([&] { write_profile_png(unsampled, file, "t"); }).find("no finite value"), std::string::npos);
  EXPECT_FALSE(fs::exists(file));
}

TEST_F(ImageOutputTest, AProfileWithGapsIsStillDrawn) {
  recon::Profile1D p;
  p.first_pixel_centre_m = 0;
  p.pixel_m = 1e-3;
  const double nan = std::nan("");
  p.values = {nan, 1, 2, nan, 4, nan, nan};
  EXPECT_NO_THROW(write_profile_png(p, dir_ / "gaps.png", "gaps"));
  EXPECT_NO_THROW(Png(dir_ / "gaps.png"));
}

}  // namespace
}  // namespace mpi::host
