// Fresh directories under gtest's temp dir, removed (with their files, flat) at process exit.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <dirent.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace vkc::test {

inline std::string make_temp_dir(const std::string& tag) {
    struct TempDirs {
        std::vector<std::string> dirs;
        ~TempDirs() {
            for (const std::string& d : dirs) {
                if (DIR* dp = ::opendir(d.c_str())) {
                    while (dirent* e = ::readdir(dp))
                        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
                            ::unlink((d + "/" + e->d_name).c_str());
                    ::closedir(dp);
                }
                ::rmdir(d.c_str());
            }
        }
    };
    static TempDirs all;
    std::string base = ::testing::TempDir();
    if (!base.empty() && base.back() != '/') base += '/';
    const std::string d = base + "vkc_" + std::to_string(::getpid()) + "_" + tag + "_" + std::to_string(all.dirs.size());
    ::mkdir(d.c_str(), 0755);
    all.dirs.push_back(d);
    return d;
}

} // namespace vkc::test
