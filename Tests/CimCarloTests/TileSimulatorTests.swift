import CimCarlo
import Foundation
import Testing

@testable import CimCarloCrossbar

/// Tile-accurate simulation against effective-weight simulation, the ADC against its closed
/// form, and drift compensation.
@Suite struct TileSimulatorTests {
    func results(
        _ network: Network, test: LabeledImages, device: DeviceModel, mapping: MappingConfiguration,
        periphery: PeripheryConfiguration, times: [Double] = [0, 3600], instances: Int = 2
    ) throws -> [InstanceResult] {
        let crossbar = CrossbarMapping(network: network, configuration: mapping, cellBits: device.cellBits)
        let simulator = try ChipSimulator(
            network: network, mapping: crossbar, device: device,
            policies: [WriteVerifyPolicy(kind: .none), WriteVerifyPolicy(kind: .all)],
            timesSeconds: times, seed: 9, test: test, periphery: periphery)
        return (0..<instances).map { simulator.simulate(instance: $0) }
    }

    func expectEquivalent(_ network: Network, test: LabeledImages, device: DeviceModel, mapping: MappingConfiguration)
        throws
    {
        let effective = try results(
            network, test: test, device: device, mapping: mapping, periphery: PeripheryConfiguration())
        for placement in PeripheryConfiguration.ADCPlacement.allCases {
            let tile = try results(
                network, test: test, device: device, mapping: mapping,
                periphery: PeripheryConfiguration(fidelity: .tile, adcPlacement: placement))
            for (a, b) in zip(effective, tile) {
                #expect(a.accuracy == b.accuracy, "\(placement) accuracy")
                for (rowA, rowB) in zip(a.loss, b.loss) {
                    for (x, y) in zip(rowA, rowB) {
                        #expect(abs(x - y) <= 1e-4 * max(1, abs(x)), "\(placement) loss \(x) vs \(y)")
                    }
                }
            }
        }
    }

    @Test(arguments: [MappingConfiguration.SignEncoding.differential, .signMagnitude])
    func idealConvertersMatchEffectiveWeightsOnRandomNetworks(encoding: MappingConfiguration.SignEncoding) throws {
        let network = makeTinyNetwork(seed: 41)
        let test = makeRandomImages(for: network, count: 40, seed: 42)
        // Small arrays so every layer spans several row tiles.
        try expectEquivalent(
            network, test: test, device: try preset("rram-hfo2"),
            mapping: MappingConfiguration(weightBits: 6, signEncoding: encoding, arrayRows: 8, arrayColumns: 16))
    }

    @Test func idealConvertersMatchEffectiveWeightsOnGraphNetworks() throws {
        // Grouped, depthwise and dilated convolutions, batch norm, residual adds and concatenation.
        let network = makeGraphNetwork(seed: 43)
        let test = makeRandomImages(for: network, count: 30, seed: 44)
        try expectEquivalent(
            network, test: test, device: try preset("rram-hfo2"),
            mapping: MappingConfiguration(weightBits: 6, signEncoding: .differential, arrayRows: 8, arrayColumns: 16))
    }

    @Test(.enabled(if: fashionMNISTInstalled), arguments: ["lenet5", "mlp"])
    func idealConvertersMatchEffectiveWeightsOnTheReferenceModels(model: String) throws {
        let network = try Network.load(from: repositoryRoot + "/models/\(model).h5")
        let test = try DatasetSource(argument: "fashion-mnist").load(.test).prefix(100)
        try expectEquivalent(
            network, test: test, device: try preset("pcm-aihwkit"),
            mapping: MappingConfiguration(weightBits: 0, signEncoding: .differential))
    }

    @Test func adcErrorMatchesTheUniformClosedForm() {
        let adc = ADCQuantizer(low: -1, high: 3, bits: 6)
        #expect(abs(adc.step - 4 / 63) < 1e-7)
        #expect(adc.convert(0) == 0)  // zero is a level
        #expect(adc.highestCode - adc.lowestCode == 63 && adc.low <= -1 && adc.high >= 3 - adc.step)
        var generator = SplitMix64(seed: 5)
        var squares = 0.0
        var largest: Float = 0
        let count = 200_000
        for _ in 0..<count {
            let value = Float(Double(adc.low) + Double(adc.high - adc.low) * generator.nextOpenUnitInterval())
            let error = adc.convert(value) - value
            squares += Double(error * error)
            largest = max(largest, abs(error))
        }
        let expected = Double(adc.step * adc.step) / 12
        #expect(abs(squares / Double(count) - expected) / expected < 0.02)
        #expect(largest <= adc.step / 2 + 1e-6)
        #expect(adc.convert(10) == adc.high && adc.convert(-5) == adc.low)  // clipping
    }

    @Test func moreADCBitsNeverHurtMuch() throws {
        let network = makeTinyNetwork(seed: 43)
        let test = makeRandomImages(for: network, count: 60, seed: 44)
        let mapping = MappingConfiguration(weightBits: 6, signEncoding: .differential, arrayRows: 16, arrayColumns: 32)
        var errors: [Double] = []
        let clean = try results(
            network, test: test, device: .ideal, mapping: mapping, periphery: PeripheryConfiguration(),
            times: [0], instances: 1)[0].loss[0][0]
        for bits in [2, 4, 8, 12] {
            let loss = try results(
                network, test: test, device: .ideal, mapping: mapping,
                periphery: PeripheryConfiguration(fidelity: .tile, adcBits: bits), times: [0],
                instances: 1)[0].loss[0][0]
            errors.append(Double(abs(loss - clean)))
        }
        // The loss converges to the ideal-converter loss as the ADC gains bits.
        #expect(errors.last! < 0.01 * Double(clean), "\(errors)")
        #expect(errors.first! > 10 * errors.last!, "\(errors)")
    }

    @Test func bitSerialInputsEqualOneShotInputsWithAnIdealADC() throws {
        let network = makeTinyNetwork(seed: 45)
        let test = makeRandomImages(for: network, count: 40, seed: 46)
        let mapping = MappingConfiguration(weightBits: 6, signEncoding: .differential, arrayRows: 16, arrayColumns: 32)
        func loss(_ periphery: PeripheryConfiguration) throws -> Float {
            try results(
                network, test: test, device: .ideal, mapping: mapping, periphery: periphery, times: [0],
                instances: 1)[0].loss[0][0]
        }
        let ideal = try loss(PeripheryConfiguration(fidelity: .tile))
        let serial = try loss(PeripheryConfiguration(fidelity: .tile, dacBits: 8, dacBitsPerCycle: 1))
        let parallel = try loss(PeripheryConfiguration(fidelity: .tile, dacBits: 8, dacBitsPerCycle: 0))
        let coarse = try loss(PeripheryConfiguration(fidelity: .tile, dacBits: 2))
        // The product is linear in the input, so cycles add up exactly; only rounding differs.
        #expect(abs(serial - parallel) <= 1e-4 * abs(parallel))
        // An 8-bit DAC is close to ideal inputs; a 2-bit one is much further off.
        #expect(abs(parallel - ideal) < abs(coarse - ideal) / 4, "8-bit \(parallel), 2-bit \(coarse), ideal \(ideal)")
    }

    /// The three ADC ranges: `fixed` is the array's full scale, rows × input range (every row at
    /// the largest input and conductance); `calibrated` is one range per layer; `column` one
    /// per column, whose extremes are the layer's calibrated range.
    @Test func adcRangesFollowTheirDefinitions() throws {
        var generator = SplitMix64(seed: 17)
        let weights = (0..<2000).map { _ in Float(generator.nextStandardNormal()) }
        let network = makeSingleLayerNetwork(inputs: 40, outputs: 50, weights: weights)
        let mapping = CrossbarMapping(network: network, configuration: MappingConfiguration(weightBits: 8), cellBits: 2)
        let images = makeRandomImages(for: network, count: 64, seed: 18)
        func calibrated(_ range: PeripheryConfiguration.ADCRange) throws -> TileSimulator {
            let periphery = PeripheryConfiguration(fidelity: .tile, adcBits: 8, adcPlacement: .slice, adcRange: range)
            let tiles = try TileSimulator(network: network, mapping: mapping, periphery: periphery, batchCapacity: 64)
            tiles.calibrate(
                network: network, workspace: try NetworkWorkspace(network: network, batchCapacity: 64), images: images)
            return tiles
        }
        let fixed = try calibrated(.fixed)
        // Inputs are the pixels themselves (no normalisation): the range is the largest one.
        #expect(fixed.inputRange[0] == images.pixels.max())
        for (low, high) in zip(fixed.adcLow[0], fixed.adcHigh[0]) {
            #expect(high == 40 * fixed.inputRange[0] && low == -high)
        }
        let layer = try calibrated(.calibrated)
        let column = try calibrated(.column)
        #expect(Set(layer.adcLow[0]).count == 1 && Set(layer.adcHigh[0]).count == 1)
        #expect(column.adcLow[0].min() == layer.adcLow[0][0] && column.adcHigh[0].max() == layer.adcHigh[0][0])
        #expect(Set(column.adcHigh[0]).count > 25)  // columns differ
        #expect(zip(column.adcLow[0], column.adcHigh[0]).allSatisfy { $0 < $1 })
        #expect(layer.adcHigh[0][0] < fixed.adcHigh[0][0])  // real partial sums stay below full scale
    }

    /// PCM with drift alone (no programming or read noise) under a random 40 → 50 dense
    /// layer, unquantised on 1-bit cells, and 64 random images.
    private func driftFixture() throws -> (DeviceModel, Network, CrossbarMapping, LabeledImages) {
        var device = try preset("pcm-aihwkit")
        device.readNoise = nil
        device.programming = .none
        var generator = SplitMix64(seed: 7)
        let weights = (0..<2000).map { _ in Float(generator.nextStandardNormal()) }
        let network = makeSingleLayerNetwork(inputs: 40, outputs: 50, weights: weights)
        let mapping = CrossbarMapping(network: network, configuration: MappingConfiguration(weightBits: 0), cellBits: 1)
        return (device, network, mapping, makeRandomImages(for: network, count: 64, seed: 8))
    }

    @Test func driftCompensationRestoresTheMeanOutputScale() throws {
        let (device, network, mapping, images) = try driftFixture()
        func meanAbsoluteOutput(_ compensation: PeripheryConfiguration.DriftCompensation) throws -> Double {
            let simulator = try ChipSimulator(
                network: network, mapping: mapping, device: device,
                policies: [WriteVerifyPolicy(kind: .none)], timesSeconds: [86_400 * 30],
                seed: 3, test: images,
                periphery: PeripheryConfiguration(driftCompensation: compensation))
            return try outputScale(
                simulator.sampledNetwork(
                    instance: 0, policyIndex: 0, timeIndex: 0,
                    compensated: true), images)
        }
        let clean = try outputScale(network, images)
        let drifted = try meanAbsoluteOutput(.none)
        #expect(drifted < 0.8 * clean)  // a month of PCM drift shrinks the outputs
        for mode in [PeripheryConfiguration.DriftCompensation.global, .column] {
            let restored = try meanAbsoluteOutput(mode)
            // Drift is not a uniform scale (ν depends on the level), so the match is close, not exact.
            #expect(abs(restored - clean) / clean < 0.05, "\(mode): \(restored) vs \(clean)")
            #expect(abs(restored - clean) < abs(drifted - clean) / 4)
        }
    }

    /// In tile mode the compensation scales each layer's converted outputs: a month of PCM
    /// drift changes the loss of a one-layer network (its logits shrink), and global
    /// compensation brings it back to the loss at 1 s.
    @Test func driftCompensationWorksInTileMode() throws {
        let (device, network, mapping, images) = try driftFixture()
        func losses(_ compensation: PeripheryConfiguration.DriftCompensation) throws -> [Float] {
            let simulator = try ChipSimulator(
                network: network, mapping: mapping, device: device, policies: [WriteVerifyPolicy(kind: .none)],
                timesSeconds: [1, 86_400 * 30], seed: 3, test: images,
                periphery: PeripheryConfiguration(fidelity: .tile, driftCompensation: compensation))
            return simulator.simulate(instance: 0).loss[0]
        }
        let plain = try losses(.none)
        let compensated = try losses(.global)
        let drifted = abs(plain[1] - plain[0])
        #expect(drifted > 0.05 * plain[0], "\(plain)")
        #expect(abs(compensated[1] - compensated[0]) < drifted / 4, "\(compensated) vs \(plain)")
    }

    /// Mean |logit − bias| of a one-layer network over `images`.
    private func outputScale(_ network: Network, _ images: LabeledImages) throws -> Double {
        let workspace = try NetworkWorkspace(network: network, batchCapacity: images.count)
        let logits = images.pixels.withUnsafeBufferPointer {
            Array(workspace.forward(network, pixels: $0, batchSize: images.count))
        }
        return logits.reduce(0) { $0 + Double(abs($1)) } / Double(logits.count)
    }
}

extension MappingConfiguration.SignEncoding: CustomTestArgumentEncodable {}

@Suite struct ADCStudyTests {
    /// More ADC bits never lower the mean accuracy beyond its confidence interval: the
    /// reference MLP on RRAM, the same chips at every resolution (paired by construction).
    @Test(.enabled(if: fashionMNISTInstalled)) func moreADCBitsNeverLowerTheMeanBeyondItsCI() throws {
        let network = try Network.load(from: repositoryRoot + "/models/mlp.h5")
        let test = try DatasetSource(argument: "fashion-mnist").load(.test).prefix(150)
        let device = try preset("rram-hfo2")
        let mapping = CrossbarMapping(
            network: network, configuration: MappingConfiguration(weightBits: 4), cellBits: device.cellBits)
        var previous: SummaryStatistics?
        var means: [Double] = []
        for bits in [3, 5, 8] {
            let simulator = try ChipSimulator(
                network: network, mapping: mapping, device: device,
                policies: [WriteVerifyPolicy(kind: .none)], timesSeconds: [3600], seed: 2,
                test: test, periphery: PeripheryConfiguration(fidelity: .tile, adcBits: bits))
            let accuracies = (0..<4).map { Double(simulator.simulate(instance: $0).accuracy[0][0]) }
            let summary = Statistics.summarize(accuracies, meetsThreshold: { $0 >= 0 })
            if let previous {
                #expect(
                    summary.mean >= previous.mean - (previous.ci95High - previous.mean),
                    "\(bits) bits: \(summary.mean) after \(previous.mean)")
            }
            previous = summary
            means.append(summary.mean)
        }
        #expect(means.last! > means.first! + 0.05, "\(means)")  // the sweep spans a real effect
    }
}

extension TileSimulatorTests {
    @Test(.enabled(if: fashionMNISTInstalled))
    func idealConvertersMatchEffectiveWeightsOnTheShippedResNet() throws {
        let network = try Network.load(from: repositoryRoot + "/models/resnet8.onnx")
        let test = try DatasetSource(argument: "fashion-mnist").load(.test).prefix(16)
        try expectEquivalent(
            network, test: test, device: try preset("rram-hfo2"),
            mapping: MappingConfiguration(weightBits: 8, signEncoding: .differential))
    }
}
