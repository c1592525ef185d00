// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "cimcarlo",
    products: [
        .executable(name: "cimcarlo", targets: ["cimcarlo"]),
        .library(name: "CimCarlo", targets: ["CimCarlo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // MARK: C libraries at the edge (pkg-config names, Debian providers)
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // oneDNN's convolutions (Debian's libdnnl-dev, no pkg-config file) behind a few C calls.
        .target(
            name: "CKernels",
            linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("dl")]
        ),

        // MARK: Support: errors, version, TOML configuration, random numbers, BLAS, HDF5 files
        .target(
            name: "CimCarloSupport",
            dependencies: ["CBLAS", "CHDF5", "CKernels"]
        ),

        // MARK: Network: the graph and its operations, datasets, training
        .target(
            name: "CimCarloNetwork",
            dependencies: ["CimCarloSupport", "CKernels", "CZlib"]
        ),

        // MARK: ONNX: graphs imported from ONNX files, and model loading by file type
        .target(
            name: "CimCarloONNX",
            dependencies: [
                "CimCarloNetwork",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Generated/README.md"]
        ),

        // MARK: Devices: device models and their effects (variation, drift, noise, programming)
        .target(
            name: "CimCarloDevices",
            dependencies: ["CimCarloSupport"]
        ),

        // MARK: Crossbar: a network mapped onto device arrays, tiles and converters
        .target(
            name: "CimCarloCrossbar",
            dependencies: ["CimCarloNetwork", "CimCarloDevices"]
        ),

        // MARK: Simulation: one chip instance, the parallel engine, write-verify policies
        .target(
            name: "CimCarloSimulation",
            dependencies: ["CimCarloCrossbar"]
        ),

        // MARK: Results: the study plan, result files, tables, summaries and shards
        .target(
            name: "CimCarloResults",
            dependencies: ["CimCarloSimulation"]
        ),

        // MARK: Study: run specs, studies end to end, budget search, shard merge, benchmarks
        .target(
            name: "CimCarloStudy",
            dependencies: ["CimCarloResults", "CimCarloONNX"]
        ),

        // MARK: The library: every layer under one import
        .target(
            name: "CimCarlo",
            dependencies: [
                "CimCarloSupport", "CimCarloNetwork", "CimCarloONNX", "CimCarloDevices", "CimCarloCrossbar",
                "CimCarloSimulation", "CimCarloResults", "CimCarloStudy",
            ]
        ),

        // MARK: Command line: subcommands, exit codes, Slurm scripts
        .executableTarget(
            name: "cimcarlo",
            dependencies: [
                "CimCarlo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests
        .testTarget(
            name: "CimCarloTests",
            dependencies: [
                "CimCarlo", "CimCarloSupport", "CimCarloNetwork", "CimCarloONNX", "CimCarloDevices", "CimCarloCrossbar",
                "CimCarloSimulation", "CimCarloResults", "CimCarloStudy",
                "cimcarlo",  // the Slurm scripts (SlurmJob) belong to the command line
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
