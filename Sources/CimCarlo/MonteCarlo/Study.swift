import Foundation

/// A run stopped (by request) before every instance was written; the file is a valid partial result.
public struct StudyInterrupted: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var completed: Int
    public var total: Int
    public var description: String { "interrupted: \(completed) of \(total) instances are in \(path)" }
}

/// One Monte-Carlo study, ready to run: the run spec with its inputs loaded and checked,
/// and the network mapped onto crossbars.
public final class Study: Sendable {
    public let spec: RunSpec
    public let device: DeviceModel
    public let deviceModelText: String
    public let network: Network
    public let test: LabeledImages
    public let mapping: CrossbarMapping
    public let seed: UInt64
    public let instances: Int
    /// The spec's policies with their selections made.
    public let policies: [WriteVerifyPolicy]
    /// Derivatives of the training loss, when a policy ranks by them.
    public let sensitivity: WeightSensitivity?

    /// Loads the model, device model and dataset a spec names. `instances` and `seed`
    /// override the spec's values (command-line options).
    public init(spec: RunSpec, instances: Int? = nil, seed: UInt64? = nil) throws {
        self.spec = spec
        (device, deviceModelText) = try DeviceModel.load(path: spec.deviceModelPath)
        network = try spec.loadNetwork()
        test = try spec.dataset.load(.test).prefix(spec.testLimit)
        try test.checkFits(network, name: spec.dataset.description)
        mapping = CrossbarMapping(network: network, configuration: spec.mapping, cellBits: device.cellBits)
        self.seed = seed ?? spec.seed
        self.instances = instances ?? spec.instances
        if spec.policies.contains(where: { $0.kind.needsSensitivity }) {
            let training = try spec.dataset.load(.train).prefix(spec.sensitivityImages)
            try training.checkFits(network, name: spec.dataset.description)
            sensitivity = try WeightSensitivity.compute(network: network, images: training)
        } else {
            sensitivity = nil
        }
        let selector = PolicySelector(network: network, mapping: mapping, device: device, seed: self.seed,
                                      scope: spec.selectionScope, sensitivity: sensitivity)
        policies = spec.policies.map(selector.select)
    }

    /// Chooses the weights of budgeted policies (as for the spec's own policies).
    public var selector: PolicySelector {
        PolicySelector(network: network, mapping: mapping, device: device, seed: seed, scope: spec.selectionScope,
                       sensitivity: sensitivity)
    }

    /// Per mapped layer, the score sensitivity-based policies rank by (SWIM's when a swim
    /// policy runs, else the first such policy's), for `/sensitivity/<layer>`.
    public func sensitivityScores() -> (kind: WriteVerifyPolicy.Kind, scores: [[Float]])? {
        let kinds = policies.map(\.kind).filter(\.needsSensitivity)
        guard let kind = kinds.contains(.swim) ? .swim : kinds.first else { return nil }
        return (kind, selector.scores(kind))
    }

    /// Everything a result file records about this study.
    public func provenance() throws -> ResultProvenance {
        guard let modelData = FileManager.default.contents(atPath: spec.modelPath) else {
            throw ModelFileError(path: spec.modelPath, reason: "cannot read it to fingerprint the model")
        }
        var provenance = ResultProvenance(
            specText: spec.text, deviceModelText: deviceModelText, modelSHA256: SHA256.hex(modelData),
            datasetSHA256: try spec.dataset.sha256(.test), seed: seed, instances: instances,
            accuracyThreshold: spec.accuracyThreshold, policyLabels: policies.map(\.description),
            policyBudgets: policies.map(\.verifiedFraction), timesSeconds: spec.timesSeconds, testImages: test.count,
            energyPerPulseJoules: device.writeVerify.energyPerPulseJoules)
        provenance.periphery = spec.periphery.description
        return provenance
    }

    /// A simulator for one worker thread, for `policies` (default: the study's).
    public func makeSimulator(policies: [WriteVerifyPolicy]? = nil) throws -> ChipSimulator {
        try ChipSimulator(network: network, mapping: mapping, device: device, policies: policies ?? self.policies,
                          timesSeconds: spec.timesSeconds, seed: seed, test: test, periphery: spec.periphery)
    }

    /// Runs the study into `output`: a new file (replacing an old one only with `force`), or,
    /// with `resume`, the instances a partial file lacks. Returns the summary per (policy, time).
    @discardableResult
    public func run(output: String, threads: Int, force: Bool = false, resume: Bool = false,
                    progress: @escaping (MonteCarloEngine.Progress) -> Void = { _ in },
                    shouldStop: @escaping @Sendable () -> Bool = { false }) throws -> [[SummaryStatistics]] {
        let provenance = try provenance()
        let file: ResultFile
        if resume {
            file = try ResultFile.resume(path: output, provenance: provenance)
        } else {
            file = try ResultFile.create(path: output, provenance: provenance, mapping: mapping, force: force)
            try file.writeSelections(policies, mapping: mapping, network: network, sensitivity: sensitivityScores())
        }
        try MonteCarloEngine.run(
            instances: file.remainingInstances, threads: threads, makeSimulator: { try self.makeSimulator() },
            record: { try file.record($0) }, progress: progress, shouldStop: shouldStop)
        guard file.remainingInstances.isEmpty else {
            throw StudyInterrupted(path: output, completed: file.instanceCount - file.remainingInstances.count,
                                   total: file.instanceCount)
        }
        return try file.finish(accuracyThreshold: spec.accuracyThreshold)
    }
}
