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
        let (targets, errors, output) = (chunk.targets.base, chunk.oneShotError.base, chunk.programmed.base)
        // The first pulse: every device lands at its target plus its one-shot error.
        for index in chunk.lanes {
            (VectorMath.load(targets, index) + VectorMath.load(errors, index)).store(output, index)
        }
        // Which devices the policy verifies: every one, none, or those of its selected weights.
        let cycles: Int
        switch (policy.kind, firstWeight) {
        case (.none, _), (.all, _), (_, nil):
            let every = firstWeight == nil ? policy.verifiesAnything : policy.kind == .all
            cycles = verify(layerIndex, every: every, selection: nil, draws: draws)
        case (_, let first?):
            cycles = policy.selection[layerIndex].withUnsafeBufferPointer {
                verify(layerIndex, every: false, selection: UnsafeBufferPointer(rebasing: $0[first...]), draws: draws)
            }
        }
        let lowest = -conductanceOffset  // G ≥ 0
        for index in chunk.lanes {
            VectorMath.store(VectorMath.maximum(VectorMath.load(output, index), lowest), output, index)
        }
        return cycles
    }

    /// The pulses of `program` after the first: stuck devices set to their rail, and the devices
    /// verified — `every` one, else those whose weight `selection` marks (indexed from the chunk's
    /// first weight) — verified and pulsed round by round. Returns all the pulses spent.
    private func verify(_ layerIndex: Int, every: Bool, selection: UnsafeBufferPointer<UInt8>?, draws: ChipDraws)
        -> Int
    {
        let devicesPerWeight = mapping.layers[layerIndex].devicesPerWeight
        let maxIterations = device.writeVerify.maxIterations
        let (errors, output, faults) = (chunk.oneShotError.base, chunk.programmed.base, chunk.stuck.base)
        func verified(_ index: Int) -> Bool { selection.map { $0[index / devicesPerWeight] != 0 } ?? every }
        var cycles = chunk.count
        let hasFaults = device.stuckAtZeroRate + device.stuckAtOneRate > 0
        if hasFaults {
            // Stuck devices cannot be moved: verifying them spends every pulse.
            for index in 0..<chunk.count where faults[index] != 0 {
                output[index] = faults[index] == 1 ? 0 : 1
                if verified(index) { cycles += maxIterations - 1 }
            }
        }
        guard maxIterations > 1 && (every || selection != nil) else { return cycles }
        let retriedBeyond = programmingModel.retriedBeyond
        var active = 0
        let retryList = retrying.base
        for index in 0..<chunk.count {
            // Without a branch: whether a first pulse missed is a coin toss.
            retryList[active] = Int32(index)
            var retries = abs(errors[index]) > retriedBeyond ? 1 : 0
            if hasFaults { retries &= faults[index] == 0 ? 1 : 0 }
            if let selection { retries &= selection[index / devicesPerWeight] != 0 ? 1 : 0 }
            active += retries
        }
        let pulseStream = draws.stream(.verifyPulses)
        let verifyReadStream = draws.stream(.verifyReads)
        var pulse = 1
        while active > 0 && pulse < maxIterations {
            let (firstDevice, counterBase, retryingBase) = (chunk.firstDevice, counters.base, retrying.base)
            for slot in 0..<active {
                counterBase[slot] = (firstDevice + Int(retryingBase[slot])) &* maxIterations &+ pulse
            }
            let slotCounters = UnsafeBufferPointer(start: counterBase, count: active)
            pulseStream.normals(
                at: slotCounters, into: UnsafeMutableBufferPointer(start: chunk.draws.base, count: active))
            if programmingModel.readsWithNoise {
                verifyReadStream.normals(
                    at: slotCounters, into: UnsafeMutableBufferPointer(start: chunk.extraDraws.base, count: active))
            }
            let (pulses, remaining) = programmingModel.pulseRound(
                chunk, devices: retrying.base, count: active, levels: output,
                pulseDraws: chunk.draws.base, readDraws: chunk.extraDraws.base)
            cycles += pulses
            active = remaining
            pulse += 1
        }
        return cycles
    }
}
