import CimCarloDevices
import CimCarloSupport
import Foundation

extension ChipSimulator {
    /// Programs the chunk's devices of mapped layer `layerIndex` under `policy` into
    /// `chunk.programmed` (normalised levels); returns the pulses spent. `firstWeight` is the
    /// chunk's first weight, nil for reference devices (verified whenever the policy verifies anything).
    ///
    /// Unverified devices keep their first-pulse error. Verified devices are verified again while
    /// the programming model says so (`ProgrammingModel`), up to `maxIterations` pulses in all;
    /// the draws of re-programming pulse `pulse` of a device are at counter
    /// `device · maxIterations + pulse`. Stuck devices cannot be moved: verifying them spends
    /// every pulse. The retries run round by round over the devices still being verified.
    func program(_ layerIndex: Int, policy: WriteVerifyPolicy, firstWeight: Int?, draws: ChipDraws) -> Int {
        let layer = mapping.layers[layerIndex]
        let pulseStream = draws.stream(.verifyPulses)
        let verifyReadStream = draws.stream(.verifyReads)
        let maxIterations = device.writeVerify.maxIterations
        let hasFaults = device.stuckAtZeroRate + device.stuckAtOneRate > 0
        let (targets, errors, output, faults) = (chunk.targets, chunk.oneShotError, chunk.programmed, chunk.stuck)
        var cycles = 0
        var active = 0
        for index in 0..<chunk.count {
            let verified =
                firstWeight.map {
                    policy.verifies(layer: layerIndex, weightIndex: $0 + index / layer.devicesPerWeight)
                } ?? policy.verifiesAnything
            if hasFaults && faults[index] != 0 {
                output[index] = faults[index] == 1 ? 0 : 1
                cycles += verified ? maxIterations : 1
                continue
            }
            output[index] = targets[index] + errors[index]
            cycles += 1
            if verified && maxIterations > 1 && programmingModel.retries(firstError: errors[index]) {
                retrying[active] = Int32(index)
                active += 1
            }
        }
        var pulse = 1
        while active > 0 && pulse < maxIterations {
            for slot in 0..<active {
                counters[slot] = (chunk.firstDevice + Int(retrying[slot])) &* maxIterations &+ pulse
            }
            let slotCounters = UnsafeBufferPointer(start: counters.base, count: active)
            pulseStream.normals(
                at: slotCounters, into: UnsafeMutableBufferPointer(start: chunk.draws.base, count: active))
            if programmingModel.readsWithNoise {
                verifyReadStream.normals(
                    at: slotCounters, into: UnsafeMutableBufferPointer(start: chunk.extraDraws.base, count: active))
            }
            var remaining = 0
            for slot in 0..<active {
                let index = Int(retrying[slot])
                guard
                    let (level, again) = programmingModel.pulse(
                        chunk, index: index, level: output[index], pulseDraw: chunk.draws[slot],
                        readDraw: chunk.extraDraws[slot])
                else { continue }
                output[index] = level
                cycles += 1
                if again {
                    retrying[remaining] = Int32(index)
                    remaining += 1
                }
            }
            active = remaining
            pulse += 1
        }
        let lowest = -conductanceOffset  // G ≥ 0
        for index in chunk.lanes {
            VectorMath.store(VectorMath.maximum(VectorMath.load(output.base, index), lowest), output.base, index)
        }
        return cycles
    }
}
