import CimCarloDevices
import CimCarloSimulation
import CimCarloSupport
import Foundation

/// Everything the result of a study depends on, as one value: two runs with equal plans give
/// bit-identical instances, whatever machine, thread count or shard runs them.
///
/// Its `digest` is stored in every result and shard file (`plan_digest`); `--resume` and
/// `cimcarlo merge` accept only files whose digest matches.
public struct StudyPlan: Equatable, Sendable {
    /// How many instances a run simulates.
    public enum Stopping: Equatable, Sendable {
        /// Exactly `StudyPlan.instances`.
        case fixed
        /// Sequential stopping: the first checkpoint (`StudyPlan.checkpoints`) at which the 95 %
        /// CI half-width of every (policy, time) mean is at most `halfWidth` (accuracy
        /// fraction), and at most `StudyPlan.instances`.
        case targetHalfWidth(Double)
    }

    /// The run spec's TOML text.
    public var specText: String
    /// The device model's TOML text.
    public var deviceModelText: String
    public var modelSHA256: String
    /// SHA-256 of the test split the study evaluates.
    public var datasetSHA256: String
    public var seed: UInt64
    /// The instances to simulate (`.fixed`) or the most to simulate (`.targetHalfWidth`).
    public var instances: Int
    public var stopping: Stopping
    /// Test images each chip is evaluated on.
    public var testImages: Int
    /// Accuracy (fraction) at or above which a chip yields.
    public var accuracyThreshold: Double
    public var policyLabels: [String]
    /// Fraction of weights each policy write-verifies.
    public var policyBudgets: [Double]
    public var timesSeconds: [Double]
    /// The periphery (fidelity, converters, drift compensation) as `key=value` pairs.
    public var periphery: String
    /// When given, `/programming_energy_j` = write cycles × this, joules.
    public var energyPerPulseJoules: Double?
    /// SHA-256 of the selections and sensitivity scores the result file stores
    /// (`ResultTables.sha256`): the weights each policy verifies.
    public var selectionsSHA256: String
    /// The device sampler that drew the instances (`CounterRandom.sampler`): another sampler
    /// gives other chips from the same seed.
    public var sampler: String
    /// Scaled-sigma sampling's chips after the plain ones (`instances` counts both), nil for a
    /// plain study.
    public var tail: TailPlan?

    /// The plan of a study (`Study` makes it from a run spec and its inputs).
    package init(
        specText: String, deviceModelText: String, modelSHA256: String, datasetSHA256: String, seed: UInt64,
        instances: Int, stopping: Stopping, testImages: Int, accuracyThreshold: Double, policyLabels: [String],
        policyBudgets: [Double], timesSeconds: [Double], periphery: String, energyPerPulseJoules: Double?,
        selectionsSHA256: String, sampler: String = CounterRandom.sampler, tail: TailPlan? = nil
    ) {
        precondition(tail == nil || tail!.totalChips == instances, "the tail's chips are the plan's instances")
        self.specText = specText
        self.deviceModelText = deviceModelText
        self.modelSHA256 = modelSHA256
        self.datasetSHA256 = datasetSHA256
        self.seed = seed
        self.instances = instances
        self.stopping = stopping
        self.testImages = testImages
        self.accuracyThreshold = accuracyThreshold
        self.policyLabels = policyLabels
        self.policyBudgets = policyBudgets
        self.timesSeconds = timesSeconds
        self.periphery = periphery
        self.energyPerPulseJoules = energyPerPulseJoules
        self.selectionsSHA256 = selectionsSHA256
        self.sampler = sampler
        self.tail = tail
    }

    /// How the device's read noise is drawn — `none`, `per-chip` or `per-read` — read from the
    /// device model (so already in the digest).
    public var readNoise: String {
        guard let device = try? DeviceModel(toml: deviceModelText, file: "device_model") else { return "unknown" }
        return device.readNoise?.resample.rawValue ?? "none"
    }

    public var threshold: AccuracyThreshold { AccuracyThreshold(fraction: accuracyThreshold, testImages: testImages) }

    /// The statistics of `results` over the plain chips (every chip without a tail).
    public func summary(of results: StudyResults) -> StudySummary {
        guard let tail else { return StudySummary(results, threshold: threshold) }
        var plain = results
        for (row, instance) in results.instances.enumerated() where instance >= tail.plainChips {
            plain.rows[row] = nil
        }
        return StudySummary(plain, threshold: threshold)
    }

    /// Scaled-sigma sampling's estimate of P(accuracy < threshold) at scale 1 for each
    /// `[policy][time]`, from the completed tail chips of `results`; nil for a plain study.
    public func tailEstimates(of results: StudyResults) -> [[ScaledSigmaEstimate]]? {
        guard let tail else { return nil }
        let threshold = threshold
        return (0..<policyLabels.count).map { policy in
            (0..<timesSeconds.count).map { time in
                var chips = [Int](repeating: 0, count: tail.scales.count)
                var failures = chips
                for case let row? in results.rows {
                    guard let scale = tail.scaleIndex(of: row.instance) else { continue }
                    chips[scale] += 1
                    if !threshold.isMet(by: Double(row.accuracy[policy][time])) { failures[scale] += 1 }
                }
                return ScaledSigma.estimate(scales: tail.scales, chips: chips, failures: failures, seed: seed)
            }
        }
    }

    /// SHA-256 of every field, one `key=value` line each (numbers as their exact decimal or
    /// bit pattern), in declaration order.
    public var digest: String {
        func bits(_ value: Double) -> String { String(value.bitPattern, radix: 16) }
        let stoppingText: String
        switch stopping {
        case .fixed: stoppingText = "fixed"
        case let .targetHalfWidth(width): stoppingText = "target_half_width " + bits(width)
        }
        let lines = [
            "spec=" + specText.utf8.count.description + ":" + specText,
            "device_model=" + deviceModelText.utf8.count.description + ":" + deviceModelText,
            "model_sha256=" + modelSHA256, "dataset_sha256=" + datasetSHA256, "seed=\(seed)",
            "instances=\(instances)", "stopping=" + stoppingText, "test_images=\(testImages)",
            "accuracy_threshold=" + bits(accuracyThreshold),
            "policies=" + policyLabels.map { "\($0.utf8.count):\($0)" }.joined(separator: ","),
            "budgets=" + policyBudgets.map(bits).joined(separator: ","),
            "times_s=" + timesSeconds.map(bits).joined(separator: ","), "periphery=" + periphery,
            "energy_per_pulse_j=" + (energyPerPulseJoules.map(bits) ?? "none"), "selections_sha256=" + selectionsSHA256,
        ]
        // Files from before the sampler (or a tail) was recorded keep their digest.
        let samplerLine = sampler == CounterRandom.legacySampler ? [] : ["sampler=" + sampler]
        let tailLine = tail.map {
            ["tail=" + $0.scales.map(bits).joined(separator: ",") + " chips=\($0.chipsPerScale) plain=\($0.plainChips)"]
        }
        return SHA256.hex(Array((lines + samplerLine + (tailLine ?? [])).joined(separator: "\n").utf8))
    }

    /// The instance counts at which sequential stopping checks its target: 16, 24, 32, 48, 64,
    /// 96, … (2^k and 1.5 · 2^k), then `instances`. Fixed counts, so the stopping point — and
    /// with it the file — never depends on threads or timing; the ratio 1.5 bounds the
    /// overshoot past the count the target needed.
    public var checkpoints: [Int] {
        var counts: [Int] = []
        var power = 16
        while power < instances {
            counts.append(power)
            if power * 3 / 2 < instances { counts.append(power * 3 / 2) }
            power *= 2
        }
        return counts + [instances]
    }
}
