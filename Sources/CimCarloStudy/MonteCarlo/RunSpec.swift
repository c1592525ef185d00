import CimCarloCrossbar
import CimCarloNetwork
import CimCarloSimulation
import CimCarloSupport
import Foundation

/// A Monte-Carlo study as written in a run spec (`runs/*.toml`); see README, "Run specs".
/// Relative paths are resolved against the directory of the spec file.
public struct RunSpec: Sendable {
    /// The spec file, as given.
    public var path: String
    /// The spec's TOML text, stored in every result file.
    public var text: String
    public var modelPath: String
    /// Per-channel normalisation applied to the pixels (in [0, 1]) before the model, nil for
    /// none: `(pixel − inputMean) / inputStd`, one value or one per channel.
    public var inputMean: [Float]?
    public var inputStd: [Float]?
    public var dataset: DatasetSource
    /// Use only the first `testLimit` test images; nil for the full test split.
    public var testLimit: Int?
    public var deviceModelPath: String
    public var mapping: MappingConfiguration
    /// Whether the spec sets `[mapping] batchnorm` (so that a model without batch
    /// normalisation, folded by its exporter, is worth a note).
    public var batchNormalizationGiven = false
    public var periphery: PeripheryConfiguration
    /// Policies in the spec's order (budgeted ones not yet selected).
    public var policies: [WriteVerifyPolicy]
    /// Whether budgets are taken across all layers at once or per layer.
    public var selectionScope: PolicySelector.Scope
    /// Training images for the sensitivity pass; nil for the whole training split.
    public var sensitivityImages: Int?
    /// Seconds after programming at which accuracy is evaluated, strictly increasing.
    public var timesSeconds: [Double]
    public var instances: Int
    public var seed: UInt64
    /// Accuracy (fraction) at or above which a chip counts toward the yield.
    public var accuracyThreshold: Double
    public var outputPath: String
    /// A sweep over periphery settings and device models: one run (and one result file) per
    /// combination; empty for a single run.
    public var sweep: Sweep
    /// Scaled-sigma sampling (`[tail]`): the scales s > 1, empty for none, and the chips
    /// simulated at each.
    public var tailScales: [Double] = []
    public var tailChipsPerScale = 500
    /// `scales = "auto"`: `cimcarlo run` chooses the scales by a pilot (`Study.automaticTailScales`).
    public var tailScalesAutomatic = false
    /// How automatic scales were chosen (the pilot's sentence), once they are.
    public var tailScalesChoice: String?

    /// Values to sweep; each non-empty list multiplies the runs.
    public struct Sweep: Sendable {
        public var adcBits: [Int] = []
        public var adcPlacements: [PeripheryConfiguration.ADCPlacement] = []
        public var deviceModelPaths: [String] = []
        public var isEmpty: Bool { adcBits.isEmpty && adcPlacements.isEmpty && deviceModelPaths.isEmpty }
    }

    /// The same study with its policies replaced by one budgeted kind (for `BudgetSearch`,
    /// which makes its own selections; the sensitivity pass runs when the kind needs it).
    public func searching(_ kind: WriteVerifyPolicy.Kind) -> RunSpec {
        var copy = self
        copy.policies = [WriteVerifyPolicy(kind: kind, budget: 0)]
        return copy
    }

    /// The runs a sweep stands for, each with a label (`rram-hfo2-slice-adc6`) and its own
    /// output file (the label inserted before `.h5` of `output`, default the spec's); the spec
    /// itself, writing to `output`, when there is no sweep.
    public func expanded(output: String? = nil) -> [(label: String, spec: RunSpec)] {
        let outputPath = output ?? self.outputPath
        guard !sweep.isEmpty else {
            var run = self
            run.outputPath = outputPath
            return [("", run)]
        }
        let devices = sweep.deviceModelPaths.isEmpty ? [deviceModelPath] : sweep.deviceModelPaths
        let placements = sweep.adcPlacements.isEmpty ? [periphery.adcPlacement] : sweep.adcPlacements
        let bits = sweep.adcBits.isEmpty ? [periphery.adcBits] : sweep.adcBits
        var runs: [(String, RunSpec)] = []
        for device in devices {
            for placement in placements {
                for adcBits in bits {
                    var parts: [String] = []
                    if !sweep.deviceModelPaths.isEmpty {
                        parts.append(((device as NSString).lastPathComponent as NSString).deletingPathExtension)
                    }
                    if !sweep.adcPlacements.isEmpty { parts.append(placement.rawValue) }
                    if !sweep.adcBits.isEmpty { parts.append("adc\(adcBits)") }
                    let label = parts.joined(separator: "-")
                    var run = self
                    run.sweep = Sweep()
                    run.deviceModelPath = device
                    run.periphery.adcPlacement = placement
                    run.periphery.adcBits = adcBits
                    let stem = (outputPath as NSString).deletingPathExtension
                    let suffix = (outputPath as NSString).pathExtension
                    run.outputPath = stem + "-" + label + (suffix.isEmpty ? "" : "." + suffix)
                    runs.append((label, run))
                }
            }
        }
        return runs
    }

    /// The spec's model as a study maps it: loaded, behind the spec's input normalisation, and
    /// with batch normalisation folded into the weights when `[mapping] batchnorm = "fold"`.
    /// `path` without `.` components and with `dir/..` pairs removed (`runs/../models/m.onnx`
    /// is `models/m.onnx`), as users expect paths printed.
    static func normalised(_ path: String) -> String {
        var components: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == "..", let last = components.last, last != ".." {
                components.removeLast()
            } else {
                components.append(component)
            }
        }
        let joined = components.joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    public func loadNetwork() throws -> Network {
        var network = try Network.load(from: modelPath)
        if inputMean != nil || inputStd != nil {
            do {
                network = try network.applyingInputNormalization(mean: inputMean ?? [0], std: inputStd ?? [1])
            } catch let error as NetworkShapeError {
                throw ConfigurationError(
                    file: path, key: inputMean != nil ? "input_mean" : "input_std", message: error.reason)
            }
        }
        if mapping.batchNormalization == .fold { network = try network.foldingBatchNormalization().network }
        return network
    }

    /// Reads and validates a run spec.
    public static func load(path: String) throws -> RunSpec {
        let (reader, text) = try ConfigurationReader.load(path: path)
        return try RunSpec(reader: reader, text: text, path: path)
    }

    /// Parses a run spec from TOML text; relative paths resolve against `path`'s directory.
    public init(toml text: String, path: String) throws {
        try self.init(reader: ConfigurationReader(file: path, text: text), text: text, path: path)
    }

    init(reader: ConfigurationReader, text: String, path: String) throws {
        self.path = path
        self.text = text
        let directory = (path as NSString).deletingLastPathComponent
        func resolve(_ relative: String) -> String {
            relative.hasPrefix("/") || directory.isEmpty
                ? relative : Self.normalised((directory as NSString).appendingPathComponent(relative))
        }
        modelPath = resolve(try reader.string("model"))
        func normalization(_ key: String, in range: ClosedRange<Double>) throws -> [Float]? {
            guard let value = reader.value(key) else { return nil }
            if case .array = value { return try reader.doubles(key, in: range)?.map(Float.init) }
            return [Float(try reader.double(key, in: range))]
        }
        inputMean = try normalization("input_mean", in: -1e6...1e6)
        inputStd = try normalization("input_std", in: 1e-12...1e6)
        let datasetName = try reader.string("dataset", default: "fashion-mnist")
        let source = DatasetSource(argument: datasetName)
        if case let .hdf5(file) = source { dataset = .hdf5(path: resolve(file)) } else { dataset = source }
        testLimit = reader.contains("test_limit") ? try reader.integer("test_limit", in: 1...100_000_000) : nil
        deviceModelPath = resolve(try reader.string("device_model"))
        instances = try reader.integer("instances", in: 1...100_000_000)
        seed = UInt64(try reader.integer("seed", default: 1, in: 0...Int.max))
        accuracyThreshold = try reader.double("accuracy_threshold", default: 0.8, in: 0...1, unit: "(fraction)")
        outputPath = resolve(try reader.string("output"))

        let times = try reader.doubles("times_s", in: 0...1e10, unit: "s") ?? [0]
        for index in times.indices.dropFirst() where times[index] <= times[index - 1] {
            throw reader.error(
                "times_s", "must be strictly increasing, but \(times[index]) follows \(times[index - 1])")
        }
        timesSeconds = times

        let names = try reader.strings("policies") ?? ["none"]
        guard !names.isEmpty else { throw reader.error("policies", "must name at least one policy") }
        let budgets = try reader.doubles("budgets", in: 0...1, unit: "(fraction of weights)")
        var policies: [WriteVerifyPolicy] = []
        for name in names {
            // A budgeted kind without `@fraction` is swept over `budgets`.
            let expanded: [String]
            if let kind = WriteVerifyPolicy.Kind(rawValue: name), kind.isBudgeted {
                guard let budgets else {
                    throw reader.error(
                        "policies", "\"\(name)\" needs a budget: write \"\(name)@0.1\" or give `budgets`")
                }
                expanded = budgets.map { WriteVerifyPolicy(kind: kind, budget: $0).description }
            } else {
                expanded = [name]
            }
            for label in expanded {
                guard let policy = WriteVerifyPolicy(name: label) else {
                    throw reader.error(
                        "policies",
                        "unknown policy \"\(label)\" (allowed: \(WriteVerifyPolicy.allowedNames), FRACTION from 0 to 1)"
                    )
                }
                guard !policies.contains(policy) else { throw reader.error("policies", "lists \"\(label)\" twice") }
                policies.append(policy)
            }
        }
        self.policies = policies
        selectionScope = PolicySelector.Scope(
            rawValue: try reader.string(
                "selection", default: "global", allowed: PolicySelector.Scope.allCases.map(\.rawValue)))!
        sensitivityImages =
            reader.contains("sensitivity_images")
            ? try reader.integer("sensitivity_images", in: 1...100_000_000) : nil

        var mapping = MappingConfiguration()
        if let table = try reader.table("mapping") {
            mapping.weightBits = try table.integer("weight_bits", default: 8, in: 0...16)
            mapping.signEncoding = MappingConfiguration.SignEncoding(
                rawValue: try table.string(
                    "sign", default: "differential", allowed: MappingConfiguration.SignEncoding.allCases.map(\.rawValue)
                ))!
            mapping.scale = MappingConfiguration.ScaleGranularity(
                rawValue: try table.string(
                    "scale", default: "layer", allowed: MappingConfiguration.ScaleGranularity.allCases.map(\.rawValue)))!
            mapping.arrayRows = try table.integer("array_rows", default: 128, in: 1...65536)
            mapping.arrayColumns = try table.integer("array_cols", default: 128, in: 1...65536)
            batchNormalizationGiven = table.contains("batchnorm")
            mapping.batchNormalization = MappingConfiguration.BatchNormalizationPlacement(
                rawValue: try table.string(
                    "batchnorm", default: "digital",
                    allowed: MappingConfiguration.BatchNormalizationPlacement.allCases.map(\.rawValue)))!
            try table.finish()
        }
        self.mapping = mapping

        var periphery = PeripheryConfiguration()
        if let table = try reader.table("periphery") {
            periphery.fidelity = PeripheryConfiguration.Fidelity(
                rawValue: try table.string(
                    "fidelity", default: "effective-weight",
                    allowed: PeripheryConfiguration.Fidelity.allCases.map(\.rawValue)))!
            periphery.dacBits = try table.integer("dac_bits", default: 0, in: 0...16)
            periphery.dacBitsPerCycle = try table.integer("dac_bits_per_cycle", default: 0, in: 0...16)
            periphery.adcBits = try table.integer("adc_bits", default: 0, in: 0...16)
            periphery.adcPlacement = PeripheryConfiguration.ADCPlacement(
                rawValue: try table.string(
                    "adc_placement", default: "slice",
                    allowed: PeripheryConfiguration.ADCPlacement.allCases.map(\.rawValue)))!
            periphery.adcRange = PeripheryConfiguration.ADCRange(
                rawValue: try table.string(
                    "adc_range", default: "calibrated",
                    allowed: PeripheryConfiguration.ADCRange.allCases.map(\.rawValue)))!
            periphery.driftCompensation = PeripheryConfiguration.DriftCompensation(
                rawValue: try table.string(
                    "drift_compensation", default: "none",
                    allowed: PeripheryConfiguration.DriftCompensation.allCases.map(\.rawValue)))!
            let tileOnly = ["dac_bits", "dac_bits_per_cycle", "adc_bits", "adc_placement", "adc_range"]
            if periphery.fidelity == .effectiveWeight, let key = tileOnly.first(where: { table.contains($0) }) {
                throw table.error(key, "needs fidelity = \"tile\" (effective-weight mode has ideal converters)")
            }
            if periphery.fidelity == .tile && mapping.signEncoding == .offset {
                throw table.error(
                    "fidelity", "\"tile\" supports sign = \"differential\" or \"sign-magnitude\", not \"offset\"")
            }
            try table.finish()
        }
        self.periphery = periphery

        var sweep = Sweep()
        if let table = try reader.table("sweep") {
            if table.contains("adc_bits") {
                sweep.adcBits =
                    try table.doubles("adc_bits", in: 1...16).map { values in
                        try values.map { value in
                            guard value == value.rounded() else {
                                throw table.error("adc_bits", "must hold whole numbers of bits, got \(value)")
                            }
                            return Int(value)
                        }
                    } ?? []
            }
            sweep.adcPlacements = try (table.strings("adc_placement") ?? []).map { name in
                guard let placement = PeripheryConfiguration.ADCPlacement(rawValue: name) else {
                    throw table.error("adc_placement", "must hold \"slice\" or \"merged\", got \"\(name)\"")
                }
                return placement
            }
            sweep.deviceModelPaths = try (table.strings("device_models") ?? []).map(resolve)
            if periphery.fidelity != .tile && !(sweep.adcBits.isEmpty && sweep.adcPlacements.isEmpty) {
                throw table.error("adc_bits", "sweeping the ADC needs [periphery] fidelity = \"tile\"")
            }
            try table.finish()
        }
        self.sweep = sweep
        if let table = try reader.table("tail") {
            if case .string("auto") = table.value("scales") {
                tailScalesAutomatic = true
            } else {
                tailScales = try table.doubles("scales", in: 0...20) ?? []
            }
            guard
                tailScalesAutomatic
                    || (!tailScales.isEmpty && tailScales.allSatisfy({ $0 > 1 })
                        && Set(tailScales).count == tailScales.count)
            else {
                throw table.error(
                    "scales",
                    "must be \"auto\" or hold one or more distinct scales > 1 (at most 20), e.g. [1.5, 2, 2.5, 3]; got \(tailScales)"
                )
            }
            tailChipsPerScale = try table.integer("chips_per_scale", default: 500, in: 10...10_000_000)
            try table.finish()
        }
        try reader.finish()
    }
}
