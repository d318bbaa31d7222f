// Fixture loading of the end-to-end tests: a fixture's checkpoint (v1 fixtures: their f32 weights) in
// f32 with validation and no pipeline cache, and its expected.safetensors.
#pragma once
#include <memory>
#include <string>

#include "model/model.h"
#include "model/safetensors.h"
#include "tests/common/test_env.h"

namespace vkc::test {

struct FixtureModel {
    std::unique_ptr<SafetensorsFile> expected;
    std::unique_ptr<Model> model;
};

// o: further options (weight type, validation and the pipeline cache are set here).
inline FixtureModel load_fixture_model(const std::string& name, ModelOptions o = {}) {
    const std::string base = fixtures_dir() + "/" + name;
    FixtureModel f;
    f.expected = SafetensorsFile::open(base + "/expected.safetensors");
    o.weight_type = WeightType::f32;
    o.validation = true;
    o.pipeline_cache_path = "";
    f.model = Model::load(name.rfind("v1", 0) == 0 ? base + "/f32" : base, o);
    return f;
}

} // namespace vkc::test
