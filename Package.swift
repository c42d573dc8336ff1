// swift-tools-version: 6.1
// SNNKit: spiking neural networks, layered and asynchronous (event-driven), in pure Swift.
import PackageDescription

import Foundation

// Release builds of the numeric modules: unchecked arithmetic and, on x86-64, code for the CPU that
// builds (AVX2/AVX-512 where present; Swift's default is SSE2, which leaves most of the vector units
// idle). A binary built this way runs only on CPUs like the build machine's: set SNNKIT_PORTABLE=1
// when building one to copy elsewhere.
#if arch(x86_64)
let cpuFlags: [String] = ProcessInfo.processInfo.environment["SNNKIT_PORTABLE"] == nil ? ["-target-cpu", "native"] : []
#else
let cpuFlags: [String] = []
#endif
let optimise: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"] + cpuFlags, .when(configuration: .release))]
// Parsing, file formats and the CLI keep their bounds and overflow checks (plain -O): a malformed
// file or option must give an error, never read out of bounds.
let checked: [SwiftSetting] = cpuFlags.isEmpty ? [] : [.unsafeFlags(cpuFlags, .when(configuration: .release))]

let package = Package(
    name: "SNNKit",
    products: [
        .library(name: "SNNKit", targets: ["SNNTensor", "SNNCore", "SNNTrace", "SNNEngines", "SNNTraining", "SNNData", "SNNReports", "SNNNIR"]),
        .executable(name: "snn", targets: ["snn"]),
    ],
    traits: [
        .trait(name: "HDF5", description: "SHD reader and NIR files through the system libhdf5 (Debian: libhdf5-dev)."),
        .trait(name: "MPI", description: "Data-parallel training and evaluation over MPI (`mpirun -np N snn train ...`) through the system Open MPI (Debian: libopenmpi-dev, openmpi-bin)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "SNNTensor", swiftSettings: optimise),
        // Model files, the network-spec parser and layer definitions: checked build. Its hot delivery
        // functions are @inlinable and compile into the unchecked engines; the layered kernels it calls
        // live in SNNTensor (measured: layered MLP training 3-5% slower than with -Ounchecked, same bits).
        .target(name: "SNNCore", dependencies: ["SNNTensor"], swiftSettings: checked),
        // The spike-trace file format (written by the async engine, read by `snn raster`): checked build.
        .target(name: "SNNTrace", swiftSettings: checked),
        .target(name: "SNNEngines", dependencies: ["SNNCore", "SNNTrace"], swiftSettings: optimise),
        .target(name: "SNNTraining", dependencies: ["SNNEngines"], swiftSettings: optimise),
        .target(name: "SNNData", dependencies: ["SNNTensor"]),
        // libhdf5 (Debian: libhdf5-dev) for the SHD reader; SNNHDF5 links it only with the HDF5 trait.
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial", providers: [.apt(["libhdf5-dev"])]),
        .target(name: "SNNHDF5", dependencies: ["SNNData", .target(name: "CHDF5", condition: .when(traits: ["HDF5"]))]),
        .target(name: "SNNReports"),
        // NIR graphs <-> SNNKit networks; the file I/O needs the HDF5 trait (SNNHDF5), the conversions do not.
        .target(name: "SNNNIR", dependencies: ["SNNCore", "SNNHDF5", "SNNData"], swiftSettings: checked),
        // Open MPI (Debian: libopenmpi-dev) for data parallelism; SNNMPI links it only with the MPI trait.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "SNNMPI", dependencies: ["SNNTraining", .target(name: "CMPI", condition: .when(traits: ["MPI"]))]),
        .executableTarget(
            name: "snn",
            dependencies: [
                "SNNTensor", "SNNCore", "SNNEngines", "SNNTraining", "SNNData", "SNNReports", "SNNNIR",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .target(name: "SNNHDF5", condition: .when(traits: ["HDF5"])),
                .target(name: "SNNMPI", condition: .when(traits: ["MPI"])),
            ],
            swiftSettings: checked
        ),
        .testTarget(name: "SNNTensorTests", dependencies: ["SNNTensor"]),
        .testTarget(name: "SNNCoreTests", dependencies: ["SNNCore"]),
        .testTarget(name: "SNNEnginesTests", dependencies: ["SNNEngines", "SNNTraining"]),
        .testTarget(name: "SNNTrainingTests", dependencies: ["SNNTraining", "SNNData"]),
        .testTarget(name: "SNNDataTests", dependencies: ["SNNData"]),
        .testTarget(name: "SNNReportsTests", dependencies: ["SNNReports"]),
        .testTarget(name: "SNNHDF5Tests", dependencies: ["SNNHDF5", "SNNData"]),
        .testTarget(name: "SNNNIRTests", dependencies: ["SNNNIR", "SNNEngines", "SNNHDF5"]),
        // Runs the built `snn` binary (same build folder as the tests) on bad options and files.
        .testTarget(name: "SNNCLITests", dependencies: ["SNNCore", "SNNTrace", "SNNTraining"]),
    ]
)
