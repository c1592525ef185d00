import CimCarloCrossbar
import CimCarloDevices
import CimCarloNetwork
import CimCarloONNX
import CimCarloResults
import CimCarloSimulation
import CimCarloSupport
import Foundation

/// One Monte-Carlo study, ready to run: the run spec with its inputs loaded and checked,
/// the network mapped onto crossbars, the policies' selections made, and the plan that
/// says what its result depends on. `run` (Study+Run.swift) drives the engine into a result
/// file; `simulate` into any sink.
public final class Study: Sendable {
    public let spec: RunSpec
    public let device: DeviceModel
    public let deviceModelText: String
    public let network: Network
    /// Wall time of the sensitivity pass over the training images, seconds (0 without one).
    public let sensitivitySeconds: Double
    public let test: LabeledImages
    public let mapping: CrossbarMapping
    public let seed: UInt64
    /// The spec's policies with their selections made.
    public let policies: [WriteVerifyPolicy]
    /// Derivatives of the training loss, when a policy ranks by them.
    public let sensitivity: WeightSensitivity?
    /// The per-layer tables of the result file: mapping, selections, sensitivity scores.
    public let tables: ResultTables
    /// Everything the result depends on, with its digest.
    public let plan: StudyPlan

    /// Loads the model, device model and dataset a spec names. `instances` and `seed`
    /// override the spec's values (command-line options); under sequential stopping
    /// `instances` is the most to simulate.
    public convenience init(
        spec: RunSpec, instances: Int? = nil, seed: UInt64? = nil,
        stopping: StudyPlan.Stopping = .fixed
    ) throws {
        let (device, deviceModelText) = try DeviceModel.load(path: spec.deviceModelPath)
        try Self.checkPolicies(of: spec, on: device)
        let network = try spec.loadNetwork()
        let test = try spec.dataset.load(.test).prefix(spec.testLimit)
        try test.checkFits(network, name: spec.dataset.description)
        var training: LabeledImages?
        if let policy = spec.policies.first(where: { $0.kind.needsSensitivity }) {
            do {
                training = try spec.dataset.load(.train).prefix(spec.sensitivityImages)
            } catch let error as DatasetError {
                throw DatasetError.mismatch(
                    reason:
                        "policy \(policy) ranks weights by a pass over the training split, which is missing: \(error)")
            }
            try training!.checkFits(network, name: spec.dataset.description)
        }
        // An ONNX model's external data files are part of it (their bytes follow the model's).
        let externalFiles =
            spec.modelPath.lowercased().hasSuffix(".onnx")
            ? try ONNXImporter.externalDataFiles(path: spec.modelPath) : []
        var modelHasher = SHA256()
        for file in [spec.modelPath] + externalFiles {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ModelFileError(path: file, reason: "cannot read it to fingerprint the model")
            }
            modelHasher.update(data)
        }
        try self.init(
            spec: spec, device: device, deviceModelText: deviceModelText, network: network, test: test,
            training: training, modelSHA256: modelHasher.finalizeHex(), datasetSHA256: try spec.dataset.sha256(.test),
            instances: instances, seed: seed, stopping: stopping)
    }

    /// A study of values in memory: `spec` says what to simulate (its model, dataset and device
    /// model paths are not read), `test` the images to evaluate, `training` the images a
    /// sensitivity-ranked policy's pass runs over (needed only then). `modelSHA256` and
    /// `datasetSHA256` identify the model and the test set in the plan (result files, shards).
    public init(
        spec: RunSpec, device: DeviceModel, deviceModelText: String, network: Network, test: LabeledImages,
        training: LabeledImages? = nil, modelSHA256: String, datasetSHA256: String, instances: Int? = nil,
        seed: UInt64? = nil, stopping: StudyPlan.Stopping = .fixed
    ) throws {
        self.spec = spec
        self.device = device
        self.deviceModelText = deviceModelText
        try Self.checkPolicies(of: spec, on: device)
        self.network = network
        self.test = test
        mapping = CrossbarMapping(network: network, configuration: spec.mapping, cellBits: device.cellBits)
        let seed = seed ?? spec.seed
        self.seed = seed
        if let policy = spec.policies.first(where: { $0.kind.needsSensitivity }) {
            guard let training else {
                throw DatasetError.mismatch(
                    reason: "policy \(policy) ranks weights by a pass over training images; none given")
            }
            let started = DispatchTime.now().uptimeNanoseconds
            sensitivity = try WeightSensitivity.compute(network: network, images: training)
            sensitivitySeconds = Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9
        } else {
            sensitivity = nil
            sensitivitySeconds = 0
        }
        let selector = PolicySelector(
            network: network, mapping: mapping, device: device, seed: seed,
            scope: spec.selectionScope, sensitivity: sensitivity)
        policies = spec.policies.map(selector.select)
        // The score sensitivity-based policies rank by: SWIM's when a swim policy runs, else
        // the first such policy's.
        let kinds = policies.map(\.kind).filter(\.needsSensitivity)
        let scores = (kinds.contains(.swim) ? .swim : kinds.first).map { ($0, selector.scores($0)) }
        tables = ResultTables(mapping: mapping, network: network, policies: policies, sensitivity: scores)
        let plainChips = instances ?? spec.instances
        if spec.tailScalesAutomatic && spec.tailScales.isEmpty {
            throw ConfigurationError(
                file: spec.path, key: "tail.scales",
                message: "\"auto\" is chosen by a pilot first (`cimcarlo run`, or Study.automaticTailScales)")
        }
        let tail =
            spec.tailScales.isEmpty
            ? nil
            : TailPlan(
                scales: spec.tailScales, chipsPerScale: spec.tailChipsPerScale, plainChips: plainChips,
                choice: spec.tailScalesChoice)
        if tail != nil, stopping != .fixed {
            throw ConfigurationError(
                file: spec.path, key: "tail",
                message: "scaled-sigma sampling needs a fixed instance count, not --target-ci")
        }
        plan = StudyPlan(
            specText: spec.text, deviceModelText: deviceModelText, modelSHA256: modelSHA256,
            datasetSHA256: datasetSHA256, seed: seed, instances: tail?.totalChips ?? plainChips,
            stopping: stopping, testImages: test.count, accuracyThreshold: spec.accuracyThreshold,
            policyLabels: policies.map(\.description), policyBudgets: policies.map(\.verifiedFraction),
            timesSeconds: spec.timesSeconds, periphery: spec.periphery.description,
            energyPerPulseJoules: device.writeVerify.energyPerPulseJoules, selectionsSHA256: tables.sha256, tail: tail)
    }

    /// Refuses write-verifying policies on a device whose programming is already verified.
    private static func checkPolicies(of spec: RunSpec, on device: DeviceModel) throws {
        // Any kind but none (budget searches start budgeted kinds at 0 and raise them).
        if device.programmingOutcome == .verified, let policy = spec.policies.first(where: { $0.kind != .none }) {
            throw ConfigurationError(
                file: spec.path, key: "policies",
                message: "\"\(policy)\" write-verifies, but \(spec.deviceModelPath) describes programming that is "
                    + "already verified (programming.describes = \"verified\"): the only policy allowed on it is none")
        }
    }

    /// Chooses the weights of budgeted policies (as for the spec's own policies).
    public var selector: PolicySelector {
        PolicySelector(
            network: network, mapping: mapping, device: device, seed: seed, scope: spec.selectionScope,
            sensitivity: sensitivity)
    }

    /// A simulator for one worker thread, for `policies` (default: the study's).
    public func makeSimulator(policies: [WriteVerifyPolicy]? = nil) throws -> ChipSimulator {
        let simulator = try ChipSimulator(
            network: network, mapping: mapping, device: device, policies: policies ?? self.policies,
            timesSeconds: spec.timesSeconds, seed: seed, test: test, periphery: spec.periphery)
        simulator.tail = plan.tail
        return simulator
    }

    /// The engine: simulates `instances` under `policies` (default: the study's) with `threads`
    /// workers into `sink`.
    public func simulate(
        instances: [Int], policies: [WriteVerifyPolicy]? = nil, into sink: ResultSink, threads: Int,
        progress: @escaping (MonteCarloEngine.Progress) -> Void = { _ in },
        shouldStop: @escaping @Sendable () -> Bool = { false }
    ) throws {
        try MonteCarloEngine.run(
            instances: instances, threads: threads,
            makeSimulator: { try self.makeSimulator(policies: policies) }, sink: sink,
            progress: progress, shouldStop: shouldStop)
    }
}
