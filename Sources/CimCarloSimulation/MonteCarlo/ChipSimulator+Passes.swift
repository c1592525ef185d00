import CimCarloCrossbar
import CimCarloDevices
import CimCarloSupport
import Foundation

extension ChipSimulator {
    /// Samples, programs and reads the chip of `instance` for `passes`, layer by layer and chunk
    /// by chunk, into the passes' networks (and the per-read or tile stores), with drift
    /// compensation when `compensated` and the periphery has it; returns the pulses spent per policy.
    ///
    /// A layer's reference devices (offset encoding) go first, so every chunk of weights folds
    /// against them; each device's draws depend only on its chip-wide index, so the order of
    /// chunks changes nothing.
    func simulatePasses(_ passes: [Pass], instance: Int, compensated: Bool) -> [Int] {
        reservePasses(passes.count)
        let draws = self.draws(instance)
        let compensation = compensated && periphery.driftCompensation != .none
        let usedPolicies = policies.indices.filter { policy in passes.contains { $0.policy == policy } }
        // The time points the passes read the chip at, each once.
        let readTimes = Set(passes.compactMap(\.time)).sorted().map { (index: $0, seconds: timesSeconds[$0]) }
        var cycles = [Int](repeating: 0, count: policies.count)
        for (layerIndex, layer) in mapping.layers.enumerated() {
            // Per policy (as programmed) and per pass (as read): Σ|w| of each column, for drift compensation.
            var baseline = [[Float]](repeating: [], count: policies.count)
            var current = [[Float]](repeating: [], count: passes.count)
            if compensation {
                for policy in usedPolicies { baseline[policy] = Array(repeating: 0, count: layer.columns) }
                for index in passes.indices { current[index] = Array(repeating: 0, count: layer.columns) }
            }
            for (index, pass) in passes.enumerated() { startLayer(layerIndex, pass: index, time: pass.time) }
            for devices in layer.referenceChunks {
                loadChunk(layerIndex, devices: devices, draws: draws, readTimes: readTimes)
                let offset = devices.lowerBound - layer.weightDeviceCount
                for policy in usedPolicies {
                    cycles[policy] += program(layerIndex, policy: policies[policy], firstWeight: nil, draws: draws)
                    copy(chunk.programmed, to: programmedReferenceLevels[policy], at: offset)
                    for (index, pass) in passes.enumerated() where pass.policy == policy {
                        let levels = read(at: pass.time)
                        copy(levels, to: referenceLevels[index], at: offset)
                        backend?.storeReference(chunk, pass: index, layer: layerIndex, firstDevice: offset)
                    }
                }
            }
            for weights in layer.weightChunks {
                let firstWeight = weights.lowerBound
                loadChunk(
                    layerIndex, devices: layer.devices(of: weights), draws: draws, weights: weights,
                    readTimes: readTimes)
                for policy in usedPolicies {
                    cycles[policy] += program(
                        layerIndex, policy: policies[policy], firstWeight: firstWeight, draws: draws)
                    if compensation {
                        fold(
                            layer, weights: weights, levels: chunk.programmed,
                            references: programmedReferenceLevels[policy], into: programmedWeights)
                        accumulateColumns(layer, weights: weights, of: programmedWeights, into: &baseline[policy])
                    }
                    for (index, pass) in passes.enumerated() where pass.policy == policy {
                        let levels = read(at: pass.time)
                        fold(
                            layer, weights: weights, levels: levels, references: referenceLevels[index],
                            into: layerWeights[index])
                        if compensation {
                            accumulateColumns(layer, weights: weights, of: layerWeights[index], into: &current[index])
                        }
                        backend?.store(chunk, pass: index, layer: layerIndex, firstWeight: firstWeight, levels: levels)
                    }
                }
            }
            for (index, pass) in passes.enumerated() {
                let factors =
                    compensation
                    ? compensationFactors(baseline: baseline[pass.policy], current: current[index], rows: layer.rows)
                    : nil
                finishLayer(layerIndex, pass: index, factors: factors)
            }
        }
        return cycles
    }

    /// Every device of mapped layer `layerIndex` of chip `instance`, programmed under `policy`: each
    /// device's first-pulse error and programmed level (the layout of `LayerMapping.targets`),
    /// and the pulses spent — what `simulate(instance:)` computes chunk by chunk.
    func programmedDevices(instance: Int, policy: WriteVerifyPolicy, layer layerIndex: Int)
        -> (oneShotErrors: [Float], programmed: [Float], cycles: Int)
    {
        let layer = mapping.layers[layerIndex]
        let draws = self.draws(instance)
        var (errors, programmed, cycles) = ([Float](), [Float](), 0)
        let chunks =
            layer.weightChunks.map { (devices: layer.devices(of: $0), weights: Optional($0)) }
            + layer.referenceChunks.map { (devices: $0, weights: nil) }
        for (devices, weights) in chunks {
            loadChunk(layerIndex, devices: devices, draws: draws, weights: weights)
            errors += UnsafeBufferPointer(start: chunk.oneShotError.base, count: chunk.count)
            cycles += program(layerIndex, policy: policy, firstWeight: weights?.lowerBound, draws: draws)
            programmed += UnsafeBufferPointer(start: chunk.programmed.base, count: chunk.count)
        }
        return (errors, programmed, cycles)
    }

    /// Puts devices `devices` of mapped layer `layerIndex` (the weights `weights`' devices, else
    /// reference devices) in the chunk, draws their static state and prepares their reads at
    /// `readTimes`.
    private func loadChunk(
        _ layerIndex: Int, devices: Range<Int>, draws: ChipDraws, weights: Range<Int>? = nil,
        readTimes: [(index: Int, seconds: Double)] = []
    ) {
        let layer = mapping.layers[layerIndex]
        chunk.count = devices.count
        chunk.firstDevice = deviceOffsets[layerIndex] + devices.lowerBound
        if let weights {
            layer.encode(weights: weights, targets: chunk.targets.base, coefficients: chunk.coefficients.base)
        } else {
            for (slot, device) in devices.enumerated() { chunk.targets[slot] = layer.referenceTarget(device) }
        }
        for index in chunk.lanes { VectorMath.store(.zero, chunk.oneShotError.base, index) }
        for effect in staticEffects { effect.sample(chunk, draws) }
        programmingModel.prepare(chunk)
        if !readTimes.isEmpty {
            for effect in readTimeEffects { effect.prepare(chunk, times: readTimes, draws) }
        }
    }

    /// The chunk's levels as read at time point `time` (nil: as programmed), into `chunk.read`
    /// (or `chunk.programmed` itself when the device reads the same at every time); per-read
    /// variances into `chunk.variance`.
    private func read(at time: Int?) -> DeviceBuffer<Float> {
        guard let time, !device.isStatic else { return chunk.programmed }
        let offset = conductanceOffset
        for index in chunk.lanes {
            (VectorMath.load(chunk.programmed.base, index) + offset).store(chunk.read.base, index)
        }
        for effect in readTimeEffects { effect.read(chunk, time: timesSeconds[time], timeIndex: time) }
        for index in chunk.lanes {
            VectorMath.store(
                VectorMath.maximum(VectorMath.load(chunk.read.base, index), 0) - offset, chunk.read.base, index)
        }
        if let perReadNoise, perReadNoise.isActive(at: timesSeconds[time]) {
            perReadNoise.variances(chunk, time: timesSeconds[time])
        }
        return chunk.read
    }

    /// Prepares pass `pass`'s stores for layer `layerIndex`.
    private func startLayer(_ layerIndex: Int, pass: Int, time: Int?) {
        let active = time.map { perReadNoise?.isActive(at: timesSeconds[$0]) ?? false } ?? false
        backend?.startLayer(layerIndex, pass: pass, readNoise: active)
    }

    /// Scales pass `pass`'s weights of layer `layerIndex` by the compensation factors and puts
    /// them in its network.
    private func finishLayer(_ layerIndex: Int, pass: Int, factors: [Float]?) {
        let layer = mapping.layers[layerIndex]
        let weights = layerWeights[pass]
        if let factors {
            for column in 0..<layer.columns {
                for row in 0..<layer.rows { weights[column * layer.rows + row] *= factors[column] }
            }
        }
        passNetworks[pass].modifyParameters(ofNode: layer.nodeIndex) { weight, _ in
            weight.withUnsafeMutableBufferPointer {
                $0.baseAddress!.update(from: weights.base, count: layer.weightCount)
            }
        }
        backend?.finishLayer(layerIndex, pass: pass, factors: factors)
    }

    /// Copies the chunk's values `source` to `destination[offset ...]`.
    private func copy(_ source: DeviceBuffer<Float>, to destination: DeviceBuffer<Float>, at offset: Int) {
        (destination.base + offset).update(from: source.base, count: chunk.count)
    }

    /// Folds the chunk's `levels` (the devices of weights `weights`) and the layer's reference
    /// levels into the effective weights `into[weights]` (`LayerMapping.fold`).
    private func fold(
        _ layer: LayerMapping, weights: Range<Int>, levels: DeviceBuffer<Float>, references: DeviceBuffer<Float>,
        into output: DeviceBuffer<Float>
    ) {
        layer.fold(
            weights: weights, levels: levels.base, coefficients: chunk.coefficients.base, references: references.base,
            into: output.base)
    }

    /// Adds |w| of weights `weights` of `values` to their columns' sums, row by row.
    private func accumulateColumns(
        _ layer: LayerMapping, weights: Range<Int>, of values: DeviceBuffer<Float>, into sums: inout [Float]
    ) {
        for weightIndex in weights { sums[weightIndex / layer.rows] += abs(values[weightIndex]) }
    }

    /// Drift compensation: baseline ÷ current read-out of a reference input per output column —
    /// with one-hot inputs (IBM's kit), the mean |effective weight| of the column — or pooled
    /// over the layer (global).
    private func compensationFactors(baseline: [Float], current: [Float], rows: Int) -> [Float] {
        let base = baseline.map { $0 / Float(rows) }
        let now = current.map { $0 / Float(rows) }
        if periphery.driftCompensation == .global {
            let ratio = base.reduce(0, +) / max(now.reduce(0, +), 1e-30)
            return Array(repeating: ratio, count: base.count)
        }
        return zip(base, now).map { $0 / max($1, 1e-30) }
    }
}
