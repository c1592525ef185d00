import CimCarloCrossbar
import CimCarloDevices
import CimCarloNetwork
import CimCarloSupport
import Foundation

/// Simulates chip instances: samples the devices of the mapped network, programs them under
/// each policy, lets them drift and reads them at each time point, and evaluates every pass
/// (policy × time point) on the test set — in effective-weight mode (conductances folded back
/// into one perturbed weight matrix per layer), with per-read noise on the products, or
/// tile-accurate.
///
/// A chip is simulated one chunk of devices at a time (`DeviceChunk`, whole weights of one
/// layer): every effect of the device model (`Devices/Effects`) runs on the chunk in its phase —
/// static draws, programming, each time point's read — and only the result is kept, the
/// effective weights of each pass (and, per read or per tile, what those need). Memory grows
/// with weights × passes, not with devices per weight.
///
/// One simulator per worker thread; its buffers are reused for every instance. Draws come from
/// `CounterRandom`, keyed by (seed, instance, purpose, device), so every policy and time point
/// of an instance sees the same device-to-device deviations, faults and drift exponents
/// (common random numbers), whatever thread runs it and in whatever order the devices go.
public final class ChipSimulator {
    public let device: DeviceModel
    public let mapping: CrossbarMapping
    public let policies: [WriteVerifyPolicy]
    public let timesSeconds: [Double]
    public let seed: UInt64
    /// The scale of each instance's random deviations: 1, or scaled-sigma sampling's for the
    /// tail chips of `tail` (nil: every instance at 1).
    public var tail: TailPlan? = nil
    public let periphery: PeripheryConfiguration
    private let test: LabeledImages
    private let network: Network
    private let workspace: NetworkWorkspace

    /// The chip-wide index of each mapped layer's first device (the counter of its draws).
    let deviceOffsets: [Int]
    /// The effects of the device model, by phase, in the order they apply.
    let staticEffects: [any StaticEffect]
    let readTimeEffects: [any ReadTimeEffect]
    let programmingModel: any ProgrammingModel
    /// Per-read noise (nil: none, or drawn per chip).
    let perReadNoise: ReadNoiseEffect?
    let chunk = DeviceChunk()
    /// Scratch of the programming rounds: the devices still being verified, their draw counters.
    let retrying = DeviceBuffer<Int32>(count: DeviceChunk.capacity, zero: 0)
    let counters = DeviceBuffer<Int>(count: DeviceChunk.capacity, zero: 0)
    /// g_min in units of the range: a device's conductance is `(x + offset) · (g_max − g_min)`.
    let conductanceOffset: Float

    /// The network of each pass as read, the weights of the layer being simulated per pass, and
    /// the reference columns' levels (offset encoding) per pass and per policy as programmed.
    var passNetworks: [Network] = []
    private(set) var layerWeights: [DeviceBuffer<Float>] = []
    private(set) var referenceLevels: [DeviceBuffer<Float>] = []
    private(set) var programmedReferenceLevels: [DeviceBuffer<Float>] = []
    /// The layer's weights as programmed, for drift compensation's baseline.
    private(set) var programmedWeights = DeviceBuffer<Float>(count: 0)
    /// Tile-accurate arithmetic (tile fidelity), or per-read noise on the products of
    /// effective-weight passes (per-read devices); nil: effective weights alone.
    let backend: (any InferenceBackend)?
    /// IR drop on the products of effective-weight passes (devices with IR drop).
    private let irDropEffect: ProductEffect?

    /// `periphery` selects effective-weight or tile-accurate simulation and drift compensation.
    public init(
        network: Network, mapping: CrossbarMapping, device: DeviceModel, policies: [WriteVerifyPolicy],
        timesSeconds: [Double], seed: UInt64, test: LabeledImages,
        periphery: PeripheryConfiguration = PeripheryConfiguration(), batchSize: Int = 64
    ) throws {
        self.periphery = periphery
        self.network = network
        self.mapping = mapping
        self.device = device
        self.policies = policies
        self.timesSeconds = timesSeconds
        self.seed = seed
        self.test = test
        precondition(
            mapping.layers.allSatisfy { $0.devicesPerWeight <= DeviceChunk.capacity },
            "more devices per weight than a chunk holds")
        workspace = try NetworkWorkspace(
            network: network, batchCapacity: min(batchSize, max(test.count, 1)), supportsBackward: false)
        conductanceOffset = Float(device.minimumConductance / device.conductanceRange)
        var offsets: [Int] = []
        var total = 0
        for layer in mapping.layers {
            offsets.append(total)
            total += layer.devices
        }
        deviceOffsets = offsets

        let deviceToDevice =
            device.deviceToDevice.isNone
            ? nil : VariationEffect(device.deviceToDevice, purpose: .deviceToDevice, device: device)
        let programmingNoise =
            device.programming.isNone ? nil : VariationEffect(device.programming, purpose: .programming, device: device)
        let drift = device.drift.map { DriftEffect($0, device: device) }
        let stuck = device.stuckAtZeroRate + device.stuckAtOneRate > 0 ? StuckAtFaults(device: device) : nil
        let readNoise = device.readNoise.map { ReadNoiseEffect($0, device: device) }
        let staticPhase: [(any StaticEffect)?] = [deviceToDevice, programmingNoise, stuck, drift]
        staticEffects = staticPhase.compactMap { $0 }
        let readPhase: [(any ReadTimeEffect)?] = [
            device.relaxation.map { RelaxationEffect($0, device: device) }, drift,
            device.readNoisePerRead ? nil : readNoise,
        ]
        readTimeEffects = readPhase.compactMap { $0 }
        perReadNoise = device.readNoisePerRead ? readNoise : nil
        switch device.writeVerify.dynamics {
        case .redraw: programmingModel = Redraw(device: device, programming: programmingNoise)
        case .incremental(let response, _): programmingModel = Incremental(device: device, response: response)
        }

        let passes = Self.passes(policies: policies.count, times: timesSeconds.count, device: device)
        let irDrop = device.irDrop.map {
            IRDropProduct(
                $0, device: device, arrayRows: mapping.configuration.arrayRows,
                largestOutputs: mapping.layers.map { $0.columns }.max() ?? 1)
        }
        if periphery.fidelity == .tile {
            let tiles = try TileSimulator(
                network: network, mapping: mapping, periphery: periphery,
                batchCapacity: workspace.batchCapacity, passes: passes, irDrop: irDrop)
            // Converter ranges come from the noise-free network on the first test images.
            tiles.calibrate(network: network, workspace: workspace, images: test.prefix(256))
            backend = tiles
        } else {
            backend =
                device.readNoisePerRead
                ? try ReadNoiseProduct(
                    network: network, mapping: mapping, batchCapacity: workspace.batchCapacity, passes: passes)
                : nil
        }
        // IR drop on the products of effective-weight passes (tile mode applies it per array itself).
        let mappedIndex = mapping.mappedLayerIndices(of: network)
        let layers = mapping.layers
        irDropEffect = irDrop.map { irDrop in
            { node, group, input, rows, inner, weights, output, outputs, outputStride in
                guard let index = mappedIndex[node] else { return }
                layers[index].columnScales.withUnsafeBufferPointer { scales in
                    irDrop.apply(
                        input: input, rows: rows, inner: inner, lda: inner, weights: weights, ldb: inner,
                        scales: scales.baseAddress! + group * outputs, outputs: outputs, output: output,
                        ldc: outputStride)
                }
            }
        }
        reservePasses(passes)
    }

    /// Passes over the test set per instance: one per policy and time point, one per policy
    /// when the device reads the same at every time.
    public static func passes(policies: Int, times: Int, device: DeviceModel) -> Int {
        policies * (device.isStatic ? 1 : times)
    }

    /// Makes room for `count` passes.
    func reservePasses(_ count: Int) {
        guard passNetworks.count < count else { return }
        let largestLayer = mapping.layers.map(\.weightCount).max() ?? 0
        let largestReference = mapping.layers.map { $0.devices - $0.weightDeviceCount }.max() ?? 0
        while passNetworks.count < count {
            passNetworks.append(network)
            layerWeights.append(DeviceBuffer(count: largestLayer))
            referenceLevels.append(DeviceBuffer(count: largestReference))
        }
        if programmedWeights.count < largestLayer { programmedWeights = DeviceBuffer(count: largestLayer) }
        while programmedReferenceLevels.count < policies.count {
            programmedReferenceLevels.append(DeviceBuffer(count: largestReference))
        }
    }

    /// One pass: a policy, and the time point it is read at (nil: right after programming).
    struct Pass {
        var policy: Int
        var time: Int?
    }

    /// Simulates instance `instance`: the result depends only on (seed, instance).
    public func simulate(instance: Int) -> InstanceResult {
        let timeIndependent = device.isStatic
        let passes = policies.indices.flatMap { policy in
            timesSeconds.indices.prefix(timeIndependent ? 1 : timesSeconds.count).map { Pass(policy: policy, time: $0) }
        }
        let cycles = simulatePasses(passes, instance: instance, compensated: true)
        let evaluations = evaluate(passes, instance: instance)
        var result = InstanceResult(
            instance: instance,
            accuracy: Array(repeating: Array(repeating: .nan, count: timesSeconds.count), count: policies.count),
            loss: Array(repeating: Array(repeating: .nan, count: timesSeconds.count), count: policies.count),
            writeCycles: cycles.map(Double.init),
            programmingTimeSeconds: cycles.map { Double($0) * device.writeVerify.pulseTimeSeconds })
        for (pass, evaluation) in zip(passes, evaluations) {
            for time in timeIndependent ? Array(timesSeconds.indices) : [pass.time!] {
                result.accuracy[pass.policy][time] = Float(evaluation.accuracy)
                result.loss[pass.policy][time] = Float(evaluation.meanLoss)
            }
        }
        return result
    }

    /// What instance `instance`'s draws are keyed by, and the scale of its deviations.
    func draws(_ instance: Int) -> ChipDraws {
        ChipDraws(seed: seed, instance: instance, scale: Float(tail?.scale(of: instance) ?? 1))
    }

    /// The network as chip `instance` computes it under policy `policyIndex`: right after
    /// programming when `timeIndex` is nil, else read at `timesSeconds[timeIndex]` (drift and
    /// read noise applied), with drift compensation folded into the weights when `compensated`.
    /// The same draws as `simulate(instance:)` uses; effective weights (ideal periphery).
    public func sampledNetwork(instance: Int, policyIndex: Int, timeIndex: Int?, compensated: Bool = false) -> Network {
        _ = simulatePasses([Pass(policy: policyIndex, time: timeIndex)], instance: instance, compensated: compensated)
        return passNetworks[0]
    }

    /// Evaluates `passes` (simulated by `simulatePasses`) on the test set: effective-weight passes
    /// together, up to 8 at a time (`NetworkWorkspace.evaluate(_:on:)` shares the first layer's
    /// input work); per-read and tile passes one by one.
    private func evaluate(_ passes: [Pass], instance: Int) -> [Evaluation] {
        guard let backend else {
            workspace.productEffect = irDropEffect
            defer { workspace.productEffect = nil }
            return stride(from: 0, to: passes.count, by: 8).flatMap {
                workspace.evaluate(passNetworks[$0..<min($0 + 8, passes.count)], on: test)
            }
        }
        backend.install(on: workspace, after: irDropEffect)
        defer { backend.remove(from: workspace) }
        return passes.indices.map { index in
            // Per-read noise draws are keyed by the pass, the same whatever the batching of passes.
            let pass = passes[index]
            let stream = draws(instance).stream(
                .productNoise, substream: pass.policy * timesSeconds.count + (pass.time ?? 0))
            backend.select(pass: index, stream: stream)
            return workspace.evaluate(passNetworks[index], on: test)
        }
    }
}
