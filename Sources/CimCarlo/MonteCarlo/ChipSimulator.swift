import Foundation

/// Simulates chip instances in effective-weight mode: samples every device of the mapped
/// network, programs it under each policy, lets it drift and reads it at each time point,
/// folds the conductances back into one perturbed weight matrix per layer and runs the test set.
///
/// One simulator per worker thread; its buffers are allocated once and reused for every
/// instance. Draws come from `CounterRandom`, keyed by (seed, instance, purpose, device), so
/// every policy and time point of an instance sees the same device-to-device deviations,
/// faults and drift exponents (common random numbers), whatever thread runs it.
public final class ChipSimulator {
    public let device: DeviceModel
    public let mapping: CrossbarMapping
    public let policies: [WriteVerifyPolicy]
    public let timesSeconds: [Double]
    public let seed: UInt64
    private let test: LabeledImages
    private var network: Network
    /// The networks of passes evaluated together (one per policy and time point, up to 8).
    private var passNetworks: [Network]
    private let workspace: NetworkWorkspace

    /// First global device index of each mapped layer (the counter of its draws).
    let deviceOffsets: [Int]
    // Per mapped layer and device (each buffer padded to whole SIMD lanes):
    /// error of the first programming pulse (D2D + C2C), units of the range;
    var oneShotError: [UnsafeMutableBufferPointer<Float>]
    /// 0 healthy, 1 stuck at g_min (SA0), 2 stuck at g_max (SA1);
    var stuck: [UnsafeMutableBufferPointer<UInt8>]
    /// drift exponent ν;
    var driftExponent: [UnsafeMutableBufferPointer<Float>]
    /// normalised conductance after programming under the current policy;
    var programmed: [UnsafeMutableBufferPointer<Float>]
    /// normalised conductance read at the current time point;
    var read: [UnsafeMutableBufferPointer<Float>]
    /// read-noise variance at the current time point, units of the range² (per-read noise only);
    var variance: [UnsafeMutableBufferPointer<Float>]
    /// the draws' parameters, fixed by the targets.
    let tables: [LayerTables]

    /// A mapped layer's per-device draw parameters.
    struct LayerTables {
        var deviceToDevice: VariationTable?
        var programming: VariationTable?
        /// Mean and standard deviation of the drift exponent (empty without drift).
        var driftMean: UnsafeMutableBufferPointer<Float>
        var driftStd: UnsafeMutableBufferPointer<Float>
        var relaxation: RelaxationTable?
        /// σ of a verify read per device, units of the range (incremental write-verify only).
        var verifyRead: UnsafeMutableBufferPointer<Float>
    }

    /// Scratch: chunks of draws, and the devices still being verified with their counters.
    let draws: UnsafeMutableBufferPointer<Float>
    let extraDraws: UnsafeMutableBufferPointer<Float>
    let retrying: UnsafeMutableBufferPointer<Int32>
    let counters: UnsafeMutableBufferPointer<Int>

    /// g_min in units of the range: a device's conductance is `(x + offset) · (g_max − g_min)`.
    let conductanceOffset: Double

    public let periphery: PeripheryConfiguration
    /// Tile-accurate arithmetic (tile fidelity only).
    private let tiles: TileSimulator?
    /// Per-read noise on the products of effective-weight passes (per-read devices only).
    private let readNoiseProduct: ReadNoiseProduct?

    /// `periphery` selects effective-weight or tile-accurate simulation and drift compensation.
    public init(
        network: Network, mapping: CrossbarMapping, device: DeviceModel, policies: [WriteVerifyPolicy],
        timesSeconds: [Double], seed: UInt64, test: LabeledImages,
        periphery: PeripheryConfiguration = PeripheryConfiguration(), batchSize: Int = 64
    ) throws {
        self.periphery = periphery
        self.network = network
        // Tile-accurate and per-read passes run one at a time; effective-weight passes together.
        passNetworks = Array(
            repeating: network,
            count: periphery.fidelity == .tile || device.readNoisePerRead
                ? 0 : min(8, Self.passes(policies: policies.count, times: timesSeconds.count, device: device)))
        self.mapping = mapping
        self.device = device
        self.policies = policies
        self.timesSeconds = timesSeconds
        self.seed = seed
        self.test = test
        workspace = try NetworkWorkspace(
            network: network, batchCapacity: min(batchSize, max(test.count, 1)),
            supportsBackward: false)
        conductanceOffset = device.minimumConductance / device.conductanceRange
        var offsets: [Int] = []
        var total = 0
        for layer in mapping.layers {
            offsets.append(total)
            total += layer.targets.count
        }
        deviceOffsets = offsets
        let counts = mapping.layers.map { VectorMath.paddedCount($0.targets.count) }
        func floats(_ needed: Bool) -> [UnsafeMutableBufferPointer<Float>] {
            counts.map { .allocateZeroed(needed ? $0 : 0) }
        }
        oneShotError = floats(true)
        driftExponent = floats(device.drift != nil)
        programmed = floats(true)
        read = floats(!device.isStatic)
        variance = floats(device.readNoisePerRead)
        let hasStuck = device.stuckAtZeroRate + device.stuckAtOneRate > 0
        stuck = counts.map { count in
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: hasStuck ? count : 0)
            buffer.initialize(repeating: 0)
            return buffer
        }
        tables = mapping.layers.map { layer in
            let drift = device.drift
            let padded = drift == nil ? 0 : VectorMath.paddedCount(layer.targets.count)
            let tables = LayerTables(
                deviceToDevice: device.deviceToDevice.isNone
                    ? nil : VariationTable(device.deviceToDevice, targets: layer.targets, device: device),
                programming: device.programming.isNone
                    ? nil : VariationTable(device.programming, targets: layer.targets, device: device),
                driftMean: .allocateZeroed(padded), driftStd: .allocateZeroed(padded),
                relaxation: device.relaxation.map { RelaxationTable($0, targets: layer.targets, device: device) },
                verifyRead: .allocateZeroed(
                    device.writeVerify.model == .incremental ? VectorMath.paddedCount(layer.targets.count) : 0))
            for (index, target) in layer.targets.enumerated() where !tables.verifyRead.isEmpty {
                let x = Double(target)
                tables.verifyRead[index] = Float(
                    device.verifyReadSigma(at: x) * targetConductanceInRangeUnits(x, device))
            }
            if let drift {
                for (index, target) in layer.targets.enumerated() {
                    let ratio = device.conductanceRatio(atLevel: Double(target))
                    tables.driftMean[index] = Float(drift.exponentMean.value(at: ratio))
                    tables.driftStd[index] = Float(drift.exponentStd.value(at: ratio))
                }
            }
            return tables
        }
        let largestLayer = mapping.layers.map(\.targets.count).max() ?? 0
        draws = .allocateZeroed(Self.chunkSize)
        extraDraws = .allocateZeroed(Self.chunkSize)
        retrying = .allocate(capacity: largestLayer)
        retrying.initialize(repeating: 0)
        counters = .allocate(capacity: Self.chunkSize)
        counters.initialize(repeating: 0)
        if periphery.fidelity == .tile {
            let tiles = try TileSimulator(
                network: network, mapping: mapping, periphery: periphery,
                batchCapacity: workspace.batchCapacity)
            // Converter ranges come from the noise-free network on the first test images.
            tiles.calibrate(network: network, workspace: workspace, images: test.prefix(256))
            self.tiles = tiles
            readNoiseProduct = nil
        } else {
            tiles = nil
            if device.readNoisePerRead {
                let product = try ReadNoiseProduct(
                    network: network, mapping: mapping, batchCapacity: workspace.batchCapacity)
                workspace.productNoise = { [unowned product] in
                    product.addNoise(
                        node: $0, group: $1, input: $2, rows: $3, inner: $4, output: $5, outputs: $6, outputStride: $7)
                }
                readNoiseProduct = product
            } else {
                readNoiseProduct = nil
            }
        }
    }

    deinit {
        for buffers in [oneShotError, driftExponent, programmed, read, variance] {
            buffers.forEach { $0.deallocate() }
        }
        stuck.forEach { $0.deallocate() }
        for layer in tables {
            layer.deviceToDevice?.deallocate()
            layer.programming?.deallocate()
            layer.driftMean.deallocate()
            layer.driftStd.deallocate()
            layer.relaxation?.deallocate()
            layer.verifyRead.deallocate()
        }
        draws.deallocate()
        extraDraws.deallocate()
        retrying.deallocate()
        counters.deallocate()
    }

    /// Passes over the test set per instance: one per policy and time point, one per policy
    /// when the device reads the same at every time.
    public static func passes(policies: Int, times: Int, device: DeviceModel) -> Int {
        policies * (device.isStatic ? 1 : times)
    }

    /// Simulates instance `instance`: the result depends only on (seed, instance).
    public func simulate(instance: Int) -> InstanceResult {
        sampleStaticState(instance: instance)
        var result = InstanceResult(
            instance: instance,
            accuracy: Array(repeating: Array(repeating: .nan, count: timesSeconds.count), count: policies.count),
            loss: Array(repeating: Array(repeating: .nan, count: timesSeconds.count), count: policies.count),
            writeCycles: Array(repeating: 0, count: policies.count),
            programmingTimeSeconds: Array(repeating: 0, count: policies.count))
        let timeIndependent = device.isStatic
        // Passes waiting for evaluation: (policy, time) and the network as read. Effective-weight
        // passes are evaluated together (`NetworkWorkspace.evaluate(_:on:)` shares the first
        // layer's input work), at most `passNetworks.count` at a time.
        var pending: [(policy: Int, time: Int)] = []
        func record(_ evaluation: Evaluation, policy policyIndex: Int, time timeIndex: Int) {
            result.accuracy[policyIndex][timeIndex] = Float(evaluation.accuracy)
            result.loss[policyIndex][timeIndex] = Float(evaluation.meanLoss)
        }
        func evaluatePending() {
            let evaluations = workspace.evaluate(passNetworks[0..<pending.count], on: test)
            for ((policyIndex, timeIndex), evaluation) in zip(pending, evaluations) {
                record(evaluation, policy: policyIndex, time: timeIndex)
            }
            pending.removeAll(keepingCapacity: true)
        }
        for (policyIndex, policy) in policies.enumerated() {
            let cycles = program(instance: instance, policy: policy)
            let baseline = periphery.driftCompensation == .none ? nil : readout(programmed)
            result.writeCycles[policyIndex] = cycles
            result.programmingTimeSeconds[policyIndex] = cycles * device.writeVerify.pulseTimeSeconds
            for (timeIndex, time) in timesSeconds.enumerated() where !timeIndependent || timeIndex == 0 {
                let conductances =
                    timeIndependent ? programmed : readAt(time: time, timeIndex: timeIndex, instance: instance)
                let factors = baseline.map { compensationFactors(baseline: $0, current: readout(conductances)) }
                // Per-read noise draws are keyed by the pass, the same whatever the batching of passes.
                let passStream = CounterRandom(
                    seed: seed, instance: instance, purpose: .productNoise,
                    substream: policyIndex * timesSeconds.count + timeIndex)
                let variances = readNoiseVariances(time: time, conductances: conductances)
                if let tiles {
                    tiles.load(conductances, readNoiseVariances: variances, stream: passStream)
                    tiles.compensation = factors ?? mapping.layers.map { Array(repeating: 1, count: $0.columns) }
                    record(workspace.evaluate(network, on: test), policy: policyIndex, time: timeIndex)
                    continue
                }
                if let readNoiseProduct {
                    foldWeights(conductances, scaledBy: factors)
                    readNoiseProduct.load(variances, factors: factors, stream: passStream)
                    record(workspace.evaluate(network, on: test), policy: policyIndex, time: timeIndex)
                    continue
                }
                foldWeights(conductances, scaledBy: factors, into: &passNetworks[pending.count])
                pending.append((policyIndex, timeIndex))
                if pending.count == passNetworks.count { evaluatePending() }
            }
        }
        if !pending.isEmpty { evaluatePending() }
        if timeIndependent {
            for policyIndex in policies.indices {
                for timeIndex in timesSeconds.indices.dropFirst() {
                    result.accuracy[policyIndex][timeIndex] = result.accuracy[policyIndex][0]
                    result.loss[policyIndex][timeIndex] = result.loss[policyIndex][0]
                }
            }
        }
        return result
    }

    /// The network as chip `instance` computes it under policy `policyIndex`: right after
    /// programming when `timeIndex` is nil, else read at `timesSeconds[timeIndex]` (drift and
    /// read noise applied), with drift compensation folded into the weights when `compensated`.
    /// The same draws as `simulate(instance:)` uses; effective weights (ideal periphery).
    public func sampledNetwork(instance: Int, policyIndex: Int, timeIndex: Int?, compensated: Bool = false) -> Network {
        sampleStaticState(instance: instance)
        _ = program(instance: instance, policy: policies[policyIndex])
        let baseline = compensated && periphery.driftCompensation != .none ? readout(programmed) : nil
        let conductances =
            timeIndex.map { readAt(time: timesSeconds[$0], timeIndex: $0, instance: instance) } ?? programmed
        let factors = baseline.map { compensationFactors(baseline: $0, current: readout(conductances)) }
        foldWeights(conductances, scaledBy: factors)
        return network
    }

    /// Folds `conductances` into the weights of `target` (default: the simulator's own copy of
    /// the network), each column scaled by its drift-compensation factor when given.
    private func foldWeights(
        _ conductances: [UnsafeMutableBufferPointer<Float>], scaledBy factors: [[Float]]? = nil,
        into target: inout Network
    ) {
        for (layerIndex, layer) in mapping.layers.enumerated() {
            target.modifyParameters(ofNode: layer.nodeIndex) { weight, _ in
                weight.withUnsafeMutableBufferPointer { weights in
                    CrossbarMapping.fold(
                        layer, conductances: UnsafeBufferPointer(conductances[layerIndex]), into: weights)
                    guard let factors else { return }
                    for column in 0..<layer.columns {
                        let factor = factors[layerIndex][column]
                        for row in 0..<layer.rows { weights[column * layer.rows + row] *= factor }
                    }
                }
            }
        }
    }

    private func foldWeights(_ conductances: [UnsafeMutableBufferPointer<Float>], scaledBy factors: [[Float]]? = nil) {
        foldWeights(conductances, scaledBy: factors, into: &network)
    }

    /// The read-out of a reference input per layer and output column: with one-hot inputs
    /// (IBM's kit), the mean |effective weight| of the column.
    private func readout(_ conductances: [UnsafeMutableBufferPointer<Float>]) -> [[Float]] {
        foldWeights(conductances)
        return mapping.layers.map { layer in
            let weights = network.weights(ofNode: layer.nodeIndex)
            return (0..<layer.columns).map { column in
                weights[(column * layer.rows)..<((column + 1) * layer.rows)].reduce(0) { $0 + abs($1) }
                    / Float(layer.rows)
            }
        }
    }

    /// baseline ÷ current, per column or pooled over the layer (global).
    private func compensationFactors(baseline: [[Float]], current: [[Float]]) -> [[Float]] {
        zip(baseline, current).map { base, now in
            if periphery.driftCompensation == .global {
                let ratio = base.reduce(0, +) / max(now.reduce(0, +), 1e-30)
                return Array(repeating: ratio, count: base.count)
            }
            return zip(base, now).map { $0 / max($1, 1e-30) }
        }
    }
}
