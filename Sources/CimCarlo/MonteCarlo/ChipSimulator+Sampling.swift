import Foundation

/// A variation's per-device parameters, fixed by the targets and computed once per simulator:
/// the deviation for a standard normal draw z is `scale · z` (Gaussian) or
/// `level · (exp(scale · z) − 1)` (median-preserving lognormal), in units of the range —
/// `Variation.deviation(at:standardNormal:device:sigma:)` evaluated eight devices at a time.
struct VariationTable {
    let lognormal: Bool
    /// Per device: σ (× the target conductance for Gaussian `target`-referenced variation).
    let scale: UnsafeMutableBufferPointer<Float>
    /// Per device: the target conductance in units of the range (lognormal only).
    let level: UnsafeMutableBufferPointer<Float>

    init(_ variation: Variation, targets: [Float], device: DeviceModel) {
        lognormal = variation.distribution == .lognormal
        scale = .allocateZeroed(VectorMath.paddedCount(targets.count))
        level = .allocateZeroed(lognormal ? VectorMath.paddedCount(targets.count) : 0)
        for (index, target) in targets.enumerated() {
            let x = Double(target)
            if lognormal {
                scale[index] = Float(variation.sigma(at: x, device: device))
                level[index] = Float(targetConductanceInRangeUnits(x, device))
            } else {
                scale[index] = Float(variation.sigmaInRangeUnits(at: x, device: device))
            }
        }
    }

    func deallocate() {
        scale.deallocate()
        level.deallocate()
    }

    /// The deviations of devices `index ..< index + 8` for draws `z`.
    @inline(__always)
    func deviation(_ z: VectorMath.Lanes, at index: Int) -> VectorMath.Lanes {
        let scale = VectorMath.load(scale.baseAddress!, index)
        guard lognormal else { return scale * z }
        return VectorMath.load(level.baseAddress!, index) * (VectorMath.exp(scale * z) - 1)
    }
}

extension ChipSimulator {
    /// Devices sampled per chunk (a multiple of 8): the draws of one chunk are in `draws`.
    static let chunkSize = 4096

    /// Draws what is fixed for the chip: stuck-at faults, the first-pulse error (D2D + C2C),
    /// drift exponents.
    func sampleStaticState(instance: Int) {
        let d2dStream = CounterRandom(seed: seed, instance: instance, purpose: .deviceToDevice)
        let programmingStream = CounterRandom(seed: seed, instance: instance, purpose: .programming)
        let stuckStream = CounterRandom(seed: seed, instance: instance, purpose: .stuckAt)
        let driftStream = CounterRandom(seed: seed, instance: instance, purpose: .driftExponent)
        let sa0 = Float(device.stuckAtZeroRate)
        let sa01 = Float(device.stuckAtZeroRate + device.stuckAtOneRate)
        let z = draws.baseAddress!
        for (layerIndex, layer) in mapping.layers.enumerated() {
            let count = layer.targets.count
            let tables = self.tables[layerIndex]
            for start in stride(from: 0, to: count, by: Self.chunkSize) {
                let chunk = min(Self.chunkSize, count - start)
                let lanes = stride(from: start, to: start + chunk, by: 8)
                let chunkDraws = UnsafeMutableBufferPointer(rebasing: draws[0..<chunk])
                let counter = deviceOffsets[layerIndex] + start
                let errors = oneShotError[layerIndex].baseAddress!
                for index in lanes { VectorMath.store(.zero, errors, index) }
                for (table, stream) in [(tables.deviceToDevice, d2dStream), (tables.programming, programmingStream)] {
                    guard let table else { continue }
                    stream.fillNormals(chunkDraws, firstCounter: counter)
                    for index in lanes {
                        let error =
                            VectorMath.load(errors, index)
                            + table.deviation(VectorMath.load(z, index - start), at: index)
                        VectorMath.store(error, errors, index)
                    }
                }
                if sa01 > 0 {
                    stuckStream.fillUniforms(chunkDraws, firstCounter: counter)
                    let faults = stuck[layerIndex]
                    for index in start..<(start + chunk) {
                        let draw = z[index - start]
                        faults[index] = draw < sa0 ? 1 : (draw < sa01 ? 2 : 0)
                    }
                }
                if let drift = device.drift {
                    driftStream.fillNormals(chunkDraws, firstCounter: counter)
                    let exponents = driftExponent[layerIndex].baseAddress!
                    for index in lanes {
                        var exponent =
                            VectorMath.load(tables.driftMean.baseAddress!, index)
                            + VectorMath.load(tables.driftStd.baseAddress!, index) * VectorMath.load(z, index - start)
                        if drift.absoluteExponent { exponent = absolute(exponent) }
                        VectorMath.store(exponent, exponents, index)
                    }
                }
            }
        }
    }

    /// Programs every device under `policy` into `programmed`; returns the pulses spent.
    ///
    /// Unverified devices keep their first-pulse error. Verified devices are re-programmed
    /// while outside the band `±tolerance`, up to `maxIterations` pulses in all; the draws of
    /// re-programming pulse `pulse` of a device are at counter `device · maxIterations + pulse`.
    /// - `redraw`: each pulse lands at the target with fresh C2C noise (the verify read has
    ///   removed the static D2D offset), and the verify sees the error exactly;
    /// - `incremental`: a verify read with read noise decides; outside the band, one pulse moves
    ///   the device a step of its pulse response toward the target, with C2C noise per step.
    /// Stuck devices cannot be moved: verifying them spends every pulse. The retries run round
    /// by round over the devices still being verified.
    func program(instance: Int, policy: WriteVerifyPolicy) -> Double {
        let verifyStream = CounterRandom(seed: seed, instance: instance, purpose: .verifyPulses)
        let readStream = CounterRandom(seed: seed, instance: instance, purpose: .verifyReads)
        let maxIterations = device.writeVerify.maxIterations
        let tolerance = Float(device.writeVerify.tolerance)
        let response = device.writeVerify.model == .incremental ? device.writeVerify.response : nil
        let stepSigma = Float(response?.stepSigma ?? 0)
        let lowest = Float(-conductanceOffset)  // G ≥ 0
        var cycles = 0
        for (layerIndex, layer) in mapping.layers.enumerated() {
            let faults = stuck[layerIndex]
            let errors = oneShotError[layerIndex]
            let output = programmed[layerIndex]
            let programming = tables[layerIndex].programming
            let verifyRead = tables[layerIndex].verifyRead
            var active = 0
            layer.targets.withUnsafeBufferPointer { targets in
                func place(_ index: Int, verified: Bool) {
                    if !faults.isEmpty && faults[index] != 0 {
                        output[index] = faults[index] == 1 ? 0 : 1
                        cycles += verified ? maxIterations : 1
                        return
                    }
                    output[index] = targets[index] + errors[index]
                    cycles += 1
                    // The incremental model's verify read is noisy: every verified device is read.
                    if verified && (response != nil || abs(errors[index]) > tolerance) && maxIterations > 1 {
                        retrying[active] = Int32(index)
                        active += 1
                    }
                }
                for weightIndex in 0..<layer.weightCount {
                    let verified = policy.verifies(layer: layerIndex, weightIndex: weightIndex)
                    for index in (weightIndex * layer.devicesPerWeight)..<((weightIndex + 1) * layer.devicesPerWeight) {
                        place(index, verified: verified)
                    }
                }
                // Reference columns (offset encoding) are write-verified whenever the policy verifies anything.
                for index in layer.weightDeviceCount..<targets.count { place(index, verified: policy.verifiesAnything) }
                var pulse = 1
                while active > 0 && pulse < maxIterations {
                    var remaining = 0
                    for start in stride(from: 0, to: active, by: Self.chunkSize) {
                        let chunk = min(Self.chunkSize, active - start)
                        for slot in 0..<chunk {
                            counters[slot] =
                                (deviceOffsets[layerIndex] + Int(retrying[start + slot])) &* maxIterations &+ pulse
                        }
                        let chunkCounters = UnsafeBufferPointer(rebasing: counters[0..<chunk])
                        verifyStream.normals(
                            at: chunkCounters, into: UnsafeMutableBufferPointer(rebasing: draws[0..<chunk]))
                        guard let response else {
                            cycles += chunk
                            for slot in 0..<chunk {
                                let index = Int(retrying[start + slot])
                                let error = programming?.deviation(at: index, standardNormal: draws[slot]) ?? 0
                                output[index] = targets[index] + error
                                if abs(error) > tolerance {
                                    retrying[remaining] = Int32(index)
                                    remaining += 1
                                }
                            }
                            continue
                        }
                        readStream.normals(
                            at: chunkCounters, into: UnsafeMutableBufferPointer(rebasing: extraDraws[0..<chunk]))
                        for slot in 0..<chunk {
                            let index = Int(retrying[start + slot])
                            let level = output[index]
                            let readError = level + verifyRead[index] * extraDraws[slot] - targets[index]
                            guard abs(readError) > tolerance else { continue }
                            let stepped = Float(response.step(from: Double(level), up: readError < 0))
                            output[index] = min(max(stepped + stepSigma * draws[slot], 0), 1)
                            cycles += 1
                            retrying[remaining] = Int32(index)
                            remaining += 1
                        }
                    }
                    active = remaining
                    pulse += 1
                }
            }
            for index in stride(from: 0, to: output.count, by: 8) {
                VectorMath.store(
                    VectorMath.maximum(VectorMath.load(output.baseAddress!, index), lowest), output.baseAddress!, index)
            }
        }
        return Double(cycles)
    }

    /// Applies relaxation, drift and per-chip read noise at `time` to the programmed
    /// conductances, into `read`. A device's relaxation draw is the same at every time (its
    /// broadening grows as σ(t)); read noise is drawn afresh per time point. Per-read noise is
    /// left to the products (`readNoiseVariances(time:conductances:)`).
    func readAt(time: Double, timeIndex: Int, instance: Int) -> [UnsafeMutableBufferPointer<Float>] {
        let readStream = CounterRandom(seed: seed, instance: instance, purpose: .readNoise, substream: timeIndex)
        let relaxationStream = CounterRandom(seed: seed, instance: instance, purpose: .relaxation)
        let offset = Float(conductanceOffset)
        let gMaxInRangeUnits = 1 + offset
        let driftLog = device.drift.map { Float($0.logTimeRatio(time)) }
        let readNoise = device.readNoisePerRead ? nil : device.readNoise
        let timeFactor = Float(readNoise?.timeFactor(time) ?? 0)
        let noisy = readNoise != nil && timeFactor > 0
        let decades = device.relaxation?.decades(time).map(Float.init)
        let z = draws.baseAddress!
        let relaxationDraws = extraDraws.baseAddress!
        for layerIndex in mapping.layers.indices {
            let source = programmed[layerIndex].baseAddress!
            let output = read[layerIndex].baseAddress!
            let exponents = driftExponent[layerIndex].baseAddress
            let relaxation = tables[layerIndex].relaxation
            let count = programmed[layerIndex].count
            for start in stride(from: 0, to: count, by: Self.chunkSize) {
                let chunk = min(Self.chunkSize, count - start)
                let counter = deviceOffsets[layerIndex] + start
                if noisy {
                    readStream.fillNormals(
                        UnsafeMutableBufferPointer(rebasing: draws[0..<chunk]), firstCounter: counter)
                }
                if decades != nil {
                    relaxationStream.fillNormals(
                        UnsafeMutableBufferPointer(rebasing: extraDraws[0..<chunk]), firstCounter: counter)
                }
                for index in stride(from: start, to: start + chunk, by: 8) {
                    let programmedConductance = VectorMath.load(source, index) + offset
                    var conductance = programmedConductance
                    if let decades, let relaxation {
                        conductance +=
                            relaxation.shift(decades: decades)
                            + relaxation.sigma(at: index, decades: decades)
                            * VectorMath.load(relaxationDraws, index - start)
                    }
                    if let driftLog, let exponents {
                        conductance *= VectorMath.exp(-driftLog * VectorMath.load(exponents, index))
                    }
                    if let readNoise, noisy {
                        let sigma = readNoise.relativeSigma(at: programmedConductance / gMaxInRangeUnits) * timeFactor
                        conductance += absolute(conductance) * sigma * VectorMath.load(z, index - start)
                    }
                    VectorMath.store(VectorMath.maximum(conductance, 0) - offset, output, index)
                }
            }
        }
        return read
    }

    /// Per-read noise: each device's read-noise variance at `time`, `(G · σ_r)²` in units of
    /// the range², for the conductances in `conductances` (as read at that time) — into
    /// `variance`. Nil when the device has no per-read noise or it vanishes at `time`.
    func readNoiseVariances(
        time: Double, conductances: [UnsafeMutableBufferPointer<Float>]
    ) -> [UnsafeMutableBufferPointer<Float>]? {
        guard device.readNoisePerRead, let readNoise = device.readNoise else { return nil }
        let timeFactor = Float(readNoise.timeFactor(time))
        guard timeFactor > 0 else { return nil }
        let offset = Float(conductanceOffset)
        let gMaxInRangeUnits = 1 + offset
        for layerIndex in mapping.layers.indices {
            let programmedConductances = programmed[layerIndex].baseAddress!
            let readConductances = conductances[layerIndex].baseAddress!
            let output = variance[layerIndex].baseAddress!
            for index in stride(from: 0, to: variance[layerIndex].count, by: 8) {
                let ratio = (VectorMath.load(programmedConductances, index) + offset) / gMaxInRangeUnits
                let sigma = readNoise.relativeSigma(at: ratio) * timeFactor
                let deviation = (VectorMath.load(readConductances, index) + offset) * sigma
                VectorMath.store(deviation * deviation, output, index)
            }
        }
        return variance
    }
}

/// |x| lane by lane.
@inline(__always)
func absolute(_ x: VectorMath.Lanes) -> VectorMath.Lanes {
    unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: VectorMath.Lanes.self)
}

/// A relaxation's per-device parameters, fixed by the targets: `σ(t) = max(0, σ₀ + k · d)` at
/// `d = log10(t / t₀)` decades, units of the range.
struct RelaxationTable {
    let initial: UnsafeMutableBufferPointer<Float>
    let perDecade: UnsafeMutableBufferPointer<Float>
    /// The mean's shift per decade, units of the range.
    let shiftPerDecade: Float

    init(_ relaxation: Relaxation, targets: [Float], device: DeviceModel) {
        shiftPerDecade = Float(relaxation.shiftPerDecade)
        initial = .allocateZeroed(VectorMath.paddedCount(targets.count))
        perDecade = .allocateZeroed(VectorMath.paddedCount(targets.count))
        for (index, target) in targets.enumerated() {
            initial[index] = Float(relaxation.initial.sigmaInRangeUnits(at: Double(target), device: device))
            perDecade[index] = Float(relaxation.perDecade.sigmaInRangeUnits(at: Double(target), device: device))
        }
    }

    func deallocate() {
        initial.deallocate()
        perDecade.deallocate()
    }

    /// The mean's shift `decades` after t₀.
    @inline(__always)
    func shift(decades: Float) -> Float { shiftPerDecade * decades }

    /// σ(t) of devices `index ..< index + 8`, `decades` after t₀.
    @inline(__always)
    func sigma(at index: Int, decades: Float) -> VectorMath.Lanes {
        VectorMath.maximum(
            VectorMath.load(initial.baseAddress!, index) + VectorMath.load(perDecade.baseAddress!, index) * decades, 0)
    }
}

extension VariationTable {
    /// The deviation of device `index` for one draw (write-verify retries).
    @inline(__always)
    func deviation(at index: Int, standardNormal z: Float) -> Float {
        guard lognormal else { return scale[index] * z }
        return level[index] * (VectorMath.exp(VectorMath.Lanes(repeating: scale[index] * z))[0] - 1)
    }
}

extension ReadNoise {
    /// `relativeSigma(at:)` on eight normalised conductances.
    @inline(__always)
    func relativeSigma(at x: VectorMath.Lanes) -> VectorMath.Lanes {
        if let logCoefficient {
            let microsiemens = VectorMath.maximum(x * Float(maximumMicrosiemens), 1e-9)
            let decades = VectorMath.maximum(VectorMath.log(VectorMath.maximum(microsiemens, 1)), 0) / Float(M_LN10)
            return Float(logCoefficient) * decades / microsiemens
        }
        guard exponent != 0 else { return VectorMath.Lanes(repeating: Float(min(coefficient, maximum))) }
        // x^exponent = exp(exponent · ln x); x ≤ 0 gives 0 there, floored like the scalar form.
        let power = VectorMath.exp(Float(exponent) * VectorMath.log(VectorMath.maximum(x, 1e-30)))
        return VectorMath.minimum(Float(coefficient) / VectorMath.maximum(power, Float(floor)), Float(maximum))
    }
}
