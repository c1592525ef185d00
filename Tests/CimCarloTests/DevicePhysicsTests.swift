import CimCarlo
import Foundation
import Testing

@testable import CimCarloCrossbar
@testable import CimCarloSimulation

/// The measured presets' closed forms, relaxation, the write-verify models and per-read noise,
/// against their formulas and small reference simulations, with fixed seeds.
@Suite struct DevicePhysicsTests {
    /// σ in µS of `variation` at conductance `g` µS (the preset's sigma in units of the range × range).
    private func sigmaMicrosiemens(_ variation: Variation, _ device: DeviceModel, at g: Double) -> Double {
        let x = (g * 1e-6 - device.minimumConductance) / device.conductanceRange
        return variation.sigma(at: x, device: device) * device.conductanceRange * 1e6
    }

    @Test func neurramRelaxationIsCrossSimsCubicAtOneSecond() throws {
        let device = try preset("rram-neurram")
        let relaxation = try #require(device.relaxation)
        for g in [1.0, 5.0, 10.0, 20.0, 30.0, 39.26] {
            // CrossSim RRAM_Wan: σ(G) = 1.536e-4 G³ − 1.167e-2 G² + 0.2374 G + 1.053 µS.
            let expected = 1.536e-4 * g * g * g - 1.167e-2 * g * g + 0.2374 * g + 1.053
            #expect(abs(sigmaMicrosiemens(relaxation.initial, device, at: g) - expected) < 1e-5, "G = \(g) µS")
            let x = (g - 1) / 38.26
            let atOneSecond = relaxation.sigma(at: x, time: 1, device: device) * 38.26
            #expect(abs(atOneSecond - expected) < 1e-5)
            // One day later: + 0.0967 µS per decade.
            let atOneDay = relaxation.sigma(at: x, time: 86_400, device: device) * 38.26
            #expect(abs(atOneDay - (expected + 0.09673475 * log10(86_400))) < 1e-5)
        }
        #expect(relaxation.sigma(at: 0.5, time: 0, device: device) == 0)
        #expect(device.programmingOutcome == .oneShot && device.writeVerify.model == .incremental)
    }

    @Test func miloRelaxationIsCrossSimsLineAtOneSecond() throws {
        let device = try preset("rram-milo")
        let relaxation = try #require(device.relaxation)
        // CrossSim RRAM_Milo: σ(G) = −0.009107 G + 4.782321 µS, 4.327 µS at 50 µS, 2.733 µS at 225 µS.
        for g in [50.0, 110.0, 225.0] {
            #expect(abs(sigmaMicrosiemens(relaxation.initial, device, at: g) - (4.782321 - 0.009107 * g)) < 1e-5)
        }
    }

    @Test func cmoHfoxFollowsTheKitsFormulas() throws {
        let strict = try preset("reram-cmo-hfox")
        let loose = try preset("reram-cmo-hfox-2pct")
        // aihwkit ReRamCMONoiseModel: σ_prog = c0 + c1·g µS; at 50 µS 0.054251 (0.2 %) and 0.575732 (2 %).
        #expect(abs(sigmaMicrosiemens(strict.programming, strict, at: 50) - 0.054251) < 1e-5)
        #expect(abs(sigmaMicrosiemens(loose.programming, loose, at: 50) - 0.575732) < 1e-5)
        #expect(strict.programmingOutcome == .verified && loose.programmingOutcome == .verified)
        // Relaxation at one hour: shift m·ln t = −0.72881 µS, spread a·ln t + b = 0.75585 µS.
        let relaxation = try #require(strict.relaxation)
        let range = strict.conductanceRange * 1e6
        let decades = try #require(relaxation.decades(3600))
        #expect(abs(relaxation.shiftPerDecade * decades * range - -0.72881) < 1e-4)
        #expect(abs(relaxation.sigma(at: 0.5, time: 3600, device: strict) * range - 0.75585) < 1e-4)
        // Read noise at 50 µS after one hour: K·log10(50)·sqrt(ln((t + t_read)/(2 t_read))) = 0.21750 µS.
        let noise = try #require(strict.readNoise)
        let relative = noise.relativeSigma(at: 50 / 88.199997) * noise.timeFactor(3600)
        #expect(abs(relative * 50 - 0.21750) < 1e-4)
        let lanes = noise.relativeSigma(at: VectorMath.Lanes(repeating: Float(50 / 88.199997)))
        #expect(abs(Double(lanes[0]) - noise.relativeSigma(at: 50 / 88.199997)) < 1e-6)
    }

    /// One 200 → 100 dense layer of weights 0.5 (weight 0 is 1), unquantised sign-magnitude:
    /// devices at x = 0.5.
    private func halfRangeLayer() -> Network {
        makeSingleLayerNetwork(inputs: 200, outputs: 100, weights: (0..<20_000).map { $0 == 0 ? 1 : 0.5 })
    }

    private func simulator(
        _ network: Network, device: DeviceModel, policies: [WriteVerifyPolicy] = [WriteVerifyPolicy(kind: .none)],
        times: [Double] = [0], seed: UInt64 = 42
    ) throws -> ChipSimulator {
        let mapping = CrossbarMapping(
            network: network, configuration: MappingConfiguration(weightBits: 0, signEncoding: .signMagnitude),
            cellBits: device.cellBits)
        return try ChipSimulator(
            network: network, mapping: mapping, device: device, policies: policies, timesSeconds: times, seed: seed,
            test: makeRandomImages(for: network, count: 2, seed: 1))
    }

    @Test func relaxationBroadensAndShiftsAsItsFormula() throws {
        var device = DeviceModel.ideal
        device.relaxation = Relaxation(
            referenceTimeSeconds: 1, initial: Variation(sigma: 0.02), perDecade: Variation(sigma: 0.005))
        device.relaxation!.shiftPerDecade = -0.004
        let simulator = try simulator(halfRangeLayer(), device: device, times: [1, 100])
        for (timeIndex, decades) in [(0, 0.0), (1, 2.0)] {
            let weights = simulator.sampledNetwork(instance: 0, policyIndex: 0, timeIndex: timeIndex)
                .weights(ofNode: 0).dropFirst().map(Double.init)
            let (mean, std) = meanAndStd(weights)
            // Weights are levels here (max|W| = 1 on a range of 1): x = 0.5 + μ·d + (σ₀ + k·d)·z.
            let expectedStd = 0.02 + 0.005 * decades
            #expect(abs(std - expectedStd) / expectedStd < 0.02, "std \(std) vs \(expectedStd)")
            #expect(abs(mean - (0.5 - 0.004 * decades)) < 4 * expectedStd / 141)
        }
    }

    @Test func nonlinearityLabelsGiveNeuroSimsConstants() {
        // DNN+NeuroSim's getParamA table: label → normalised A.
        for (label, a) in [(0.1, 12.625807), (1.0, 1.251653), (1.75, 0.702081), (2.4, 0.499181), (4.88, 0.200303)] {
            #expect(abs(PulseResponse.normalisedConstant(nonlinearity: label) - a) / a < 1e-4, "NL \(label)")
            #expect(abs(PulseResponse.normalisedConstant(nonlinearity: -label) + a) / a < 1e-4)
        }
        // The step is one pulse along the curve x(p) = B(1 − e^(−p/(aN))): from p(x) to p(x) + 1.
        let response = PulseResponse(
            setPulses: 50, resetPulses: 40, setNonlinearity: 2.4, resetNonlinearity: -4.88, stepSigma: 0)
        for (x, up) in [(0.3, true), (0.8, true), (0.3, false), (0.8, false)] {
            let pulses = Double(up ? 50 : 40)
            let a = (up ? response.setConstant : response.resetConstant) * pulses
            let bound = 1 / (1 - exp(-pulses / a))
            let position = -a * log(1 - x / bound)
            let expected = bound * (1 - exp(-(position + (up ? 1 : -1)) / a))
            #expect(abs(response.step(from: x, up: up) - expected) < 1e-12)
        }
    }

    /// A device whose first pulse lands with N(0, 0.1) error and is verified incrementally.
    private func incrementalDevice(
        pulses: Int, setNonlinearity: Double, resetNonlinearity: Double, stepSigma: Double, readSigma: Double,
        maxIterations: Int = 40
    ) -> DeviceModel {
        var device = DeviceModel.ideal
        device.programming = Variation(sigma: 0.1)
        device.writeVerify = WriteVerify(
            tolerance: 0.02, maxIterations: maxIterations,
            dynamics: .incremental(
                response: PulseResponse(
                    setPulses: pulses, resetPulses: pulses, setNonlinearity: setNonlinearity,
                    resetNonlinearity: resetNonlinearity, stepSigma: stepSigma),
                verifyReadSigma: readSigma))
        return device
    }

    @Test func linearNoiselessVerifyTakesTheAnalyticNumberOfSteps() throws {
        // Enough pulses for every error (5σ = 0.5 needs 49 steps).
        let device = incrementalDevice(
            pulses: 100, setNonlinearity: 0, resetNonlinearity: 0, stepSigma: 0, readSigma: 0, maxIterations: 1000)
        let simulator = try simulator(halfRangeLayer(), device: device, policies: [WriteVerifyPolicy(kind: .all)])
        let (errors, programmed, pulses) = simulator.programmedDevices(
            instance: 0, policy: WriteVerifyPolicy(kind: .all), layer: 0)
        let cycles = Double(pulses)
        // Each step moves 1/N toward the target: ⌈(|e| − τ)·N⌉ steps after the first pulse.
        var expected = 0.0
        var borderline = 0.0
        for error in errors {
            let excess = (abs(Double(error)) - 0.02) * 100
            expected += 1 + max(0, excess.rounded(.up))
            if excess > 0 && abs(excess - excess.rounded()) < 1e-3 { borderline += 1 }
        }
        #expect(abs(cycles - expected) <= borderline, "\(cycles) pulses vs \(expected)")
        let targets = simulator.mapping.layers[0].targets
        for (index, target) in targets.enumerated() {
            #expect(abs(programmed[index] - target) <= 0.02 + 1e-5)
        }
    }

    /// The incremental model on one device, written out independently: the pulse along the
    /// curve through its pulse position, Gaussian C2C per step, a noisy verify read.
    private func referenceVerify(
        error: Double, target: Double, response: PulseResponse, readSigma: Double, tolerance: Double,
        maxIterations: Int, generator: inout SplitMix64
    ) -> (residual: Double, pulses: Int) {
        var state = target + error
        var pulses = 1
        for _ in 1..<maxIterations {
            let read = state + readSigma * target * generator.nextStandardNormal()
            guard abs(read - target) > tolerance else { break }
            let up = read < target
            let count = Double(up ? response.setPulses : response.resetPulses)
            let a = (up ? response.setConstant : response.resetConstant) * count
            let bound = 1 / (1 - exp(-count / a))
            let clamped = min(max(state, 0), 1)
            let position = -a * log(1 - clamped / bound)
            state += bound * (1 - exp(-(position + (up ? 1 : -1)) / a)) - clamped
            state = min(max(state + response.stepSigma * generator.nextStandardNormal(), 0), 1)
            pulses += 1
        }
        return (state - target, pulses)
    }

    @Test func noisyNonlinearVerifyMatchesAReferenceSimulation() throws {
        let device = incrementalDevice(
            pulses: 32, setNonlinearity: 2.4, resetNonlinearity: -4.88, stepSigma: 0.01, readSigma: 0.01)
        let simulator = try simulator(halfRangeLayer(), device: device, policies: [WriteVerifyPolicy(kind: .all)])
        let targets = simulator.mapping.layers[0].targets
        let count = targets.count
        let (errors, programmed, totalPulses) = simulator.programmedDevices(
            instance: 0, policy: WriteVerifyPolicy(kind: .all), layer: 0)
        let cycles = Double(totalPulses)
        let residuals = (0..<count).map { Double(programmed[$0] - targets[$0]) }

        guard case .incremental(let response, _) = device.writeVerify.dynamics else { return }
        var generator = SplitMix64(seed: 3)
        var reference: [(residual: Double, pulses: Int)] = []
        for (index, error) in errors.enumerated() {
            reference.append(
                referenceVerify(
                    error: Double(error), target: Double(targets[index]),
                    response: response, readSigma: 0.01, tolerance: 0.02, maxIterations: 40,
                    generator: &generator))
        }
        // Pulses per device: the simulator's against the reference's, within 4 standard errors.
        let pulses = reference.map { Double($0.pulses) }
        let (meanPulses, stdPulses) = meanAndStd(pulses)
        let simulated = cycles / Double(count)
        #expect(
            abs(simulated - meanPulses) < 4 * stdPulses * (2 / Double(count)).squareRoot(),
            "\(simulated) vs \(meanPulses)")
        // Residual spread: the same within 4 % (2σ of a std over 20 000 devices is 1 %).
        let (_, referenceStd) = meanAndStd(reference.map(\.residual))
        let (_, simulatedStd) = meanAndStd(residuals)
        #expect(abs(simulatedStd - referenceStd) / referenceStd < 0.04, "\(simulatedStd) vs \(referenceStd)")
        // The variance policy's table comes from the same dynamics.
        let table = VerifiedSpread(device: device, seed: 5).variance(at: 0.5)
        #expect(
            abs(table.squareRoot() - referenceStd) / referenceStd < 0.08, "\(table.squareRoot()) vs \(referenceStd)")
    }

    @Test func redrawVerifiedVarianceMatchesTheSimulator() throws {
        var device = DeviceModel.ideal
        device.deviceToDevice = Variation(sigma: 0.02)
        device.programming = Variation(sigma: 0.05)
        device.writeVerify = WriteVerify(tolerance: 0.02, maxIterations: 3)
        let simulator = try simulator(halfRangeLayer(), device: device, policies: [WriteVerifyPolicy(kind: .all)])
        var residuals: [Double] = []
        for instance in 0..<3 {
            let targets = simulator.mapping.layers[0].targets
            let programmed = simulator.programmedDevices(
                instance: instance, policy: WriteVerifyPolicy(kind: .all), layer: 0
            )
            .programmed
            residuals += (0..<targets.count).map { Double(programmed[$0] - targets[$0]) }
        }
        let variance = residuals.reduce(0) { $0 + $1 * $1 } / Double(residuals.count)
        let expected = VerifiedSpread(device: device, seed: 1).variance(at: 0.5)
        // Three pulses leave (1 − p)² ≈ 0.47 of the first misses outside the band: far from τ²/3.
        #expect(abs(variance - expected) / expected < 0.03, "\(variance) vs \(expected)")
        #expect(expected > 0.0004 / 3 * 2)
    }

    @Test func verifiedPresetsRefuseWriteVerifyPolicies() throws {
        let directory = try TemporaryDirectory()
        let spec = """
            model = "missing.h5"
            device_model = "\(repositoryRoot)/variation-models/pcm-aihwkit.toml"
            instances = 2
            policies = ["none", "magnitude@0.1"]
            output = "out.h5"
            """
        let path = directory.file("spec.toml")
        try spec.write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            _ = try Study(spec: try RunSpec.load(path: path))
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.key == "policies" && error.message.contains("describes = \"verified\"")
        }
    }

    @Test func incrementalKeysNeedTheIncrementalModel() throws {
        let text = """
            name = "x"
            source = "test"
            [conductance]
            g_min_us = 1
            g_max_us = 10
            [write_verify]
            step_sigma = 0.01
            """
        #expect {
            _ = try DeviceModel(toml: text, file: "x.toml")
        } throws: { error in
            (error as? ConfigurationError)?.key == "write_verify.step_sigma"
        }
    }
}

/// Per-read noise: the extra product's variance against Σ x² σ², and per-read against per-chip.
@Suite struct PerReadNoiseTests {
    /// Per column j, `R` outputs for the same input: `(R − 1) s_j² / σ_j²` summed over the
    /// columns is χ² with `J (R − 1)` degrees of freedom; it must lie within 4 of its standard
    /// deviations of its mean. Run in effective-weight and tile-accurate mode, and with the
    /// offset encoding, whose reference devices add `scale_j² Σ_i x_i² Σ_s w_s² σ²_ref` per column.
    @Test(arguments: [
        (PeripheryConfiguration.Fidelity.effectiveWeight, MappingConfiguration.SignEncoding.differential),
        (.tile, .differential), (.effectiveWeight, .offset),
    ])
    func outputVarianceIsTheSumOfSquaredInputsTimesVariances(
        fidelity: PeripheryConfiguration.Fidelity, sign: MappingConfiguration.SignEncoding
    ) throws {
        var generator = SplitMix64(seed: 11)
        let (inputs, outputs) = (40, 12)
        let weights = (0..<(inputs * outputs)).map { _ in Float(generator.nextStandardNormal()) }
        let network = makeSingleLayerNetwork(inputs: inputs, outputs: outputs, weights: weights)
        var configuration = MappingConfiguration(weightBits: sign == .offset ? 4 : 0, signEncoding: sign)
        configuration.arrayColumns = 8  // several column tiles, each with its own reference column
        let mapping = CrossbarMapping(network: network, configuration: configuration, cellBits: sign == .offset ? 2 : 1)
        let layer = mapping.layers[0]
        // Device variances: a different one per device, units of the range².
        let deviceVariances = UnsafeMutableBufferPointer<Float>.allocate(capacity: layer.targets.count)
        defer { deviceVariances.deallocate() }
        for index in 0..<layer.targets.count { deviceVariances[index] = Float(1e-3 * Double(1 + index % 5)) }
        let pixel = (0..<inputs).map { _ in Float(generator.nextOpenUnitInterval()) }
        let batch = 64
        let workspace = try NetworkWorkspace(network: network, batchCapacity: batch, supportsBackward: false)
        let stream = CounterRandom(seed: 3, instance: 0, purpose: .productNoise)
        let folded = mapping.quantizedNetwork(network)
        var tiles: TileSimulator?
        var products: ReadNoiseProduct?
        let coefficients = layer.coefficients
        if fidelity == .tile {
            var periphery = PeripheryConfiguration()
            periphery.fidelity = .tile
            let simulator = try TileSimulator(
                network: network, mapping: mapping, periphery: periphery, batchCapacity: batch)
            simulator.calibrate(
                network: network, workspace: workspace,
                images: LabeledImages(pixels: pixel, labels: [0], height: 1, width: 1, channels: inputs))
            let targets = UnsafeMutableBufferPointer<Float>.allocate(capacity: layer.targets.count)
            defer { targets.deallocate() }
            _ = targets.initialize(from: layer.targets)
            simulator.load([targets], readNoiseVariances: [deviceVariances], stream: stream)
            simulator.install(on: workspace, after: nil)
            tiles = simulator
        } else {
            let product = try ReadNoiseProduct(network: network, mapping: mapping, batchCapacity: batch, passes: 1)
            product.load([deviceVariances], stream: stream)
            workspace.productEffect = {
                product.addNoise(
                    node: $0, group: $1, input: $2, rows: $3, inner: $4, output: $6, outputs: $7, outputStride: $8)
            }
            products = product
        }
        _ = (tiles, products)
        let pixels = Array([[Float]](repeating: pixel, count: batch).joined())
        var samples = [[Double]](repeating: [], count: outputs)
        for _ in 0..<8 {
            let logits = pixels.withUnsafeBufferPointer { workspace.forward(folded, pixels: $0, batchSize: batch) }
            for row in 0..<batch {
                for column in 0..<outputs { samples[column].append(Double(logits[row * outputs + column])) }
            }
        }
        // Predicted: Σ_i x_i² Σ_d c_d² σ_d² (the network normalises nothing: mean 0, std 1).
        let (mean, std) = network.normalization(channel: 0)
        #expect(mean == 0 && std == 1)
        let clean = folded.weights(ofNode: 0)
        var statistic = 0.0
        for column in 0..<outputs {
            var predicted = 0.0
            var expectedMean = 0.0
            for row in 0..<inputs {
                let weight = column * inputs + row
                var variance = 0.0
                for device in (weight * layer.devicesPerWeight)..<((weight + 1) * layer.devicesPerWeight) {
                    variance += Double(
                        coefficients[device] * coefficients[device] * deviceVariances[device])
                }
                if layer.hasReference {
                    let first =
                        layer.weightDeviceCount + (layer.referenceTile(ofColumn: column) * inputs + row) * layer.slices
                    let scale = Double(layer.referenceColumnScales[column])
                    for slice in 0..<layer.slices {
                        let sliceWeight = Double(layer.referenceSliceWeights[slice])
                        variance += scale * scale * sliceWeight * sliceWeight * Double(deviceVariances[first + slice])
                    }
                }
                predicted += Double(pixel[row] * pixel[row]) * variance
                expectedMean += Double(pixel[row] * clean[weight])
            }
            let (sampleMean, sampleStd) = meanAndStd(samples[column])
            statistic += Double(samples[column].count - 1) * sampleStd * sampleStd / predicted
            #expect(abs(sampleMean - expectedMean) < 4 * (predicted / Double(samples[column].count)).squareRoot())
        }
        let degrees = Double(outputs * (batch * 8 - 1))
        #expect(abs(statistic - degrees) < 4 * (2 * degrees).squareRoot(), "χ² \(statistic) on \(degrees) dof")
    }

    @Test func perReadMeanAccuracyMatchesPerChip() throws {
        // Labels are the noise-free network's predictions, so noise alone costs accuracy.
        let network = makeTinyNetwork(seed: 21)
        var images = makeRandomImages(for: network, count: 200, seed: 22)
        let workspace = try NetworkWorkspace(network: network, batchCapacity: 200, supportsBackward: false)
        let logits = images.pixels.withUnsafeBufferPointer { workspace.forward(network, pixels: $0, batchSize: 200) }
        let classes = network.classCount
        images.labels = (0..<200).map { row in
            Int32((0..<classes).max { logits[row * classes + $0] < logits[row * classes + $1] }!)
        }
        let mapping = CrossbarMapping(network: network, configuration: MappingConfiguration(weightBits: 0), cellBits: 1)
        func accuracies(_ resample: ReadNoise.Resample) throws -> [Double] {
            var device = DeviceModel.ideal
            device.readNoise = ReadNoise(coefficient: 0.3, resample: resample)
            let simulator = try ChipSimulator(
                network: network, mapping: mapping, device: device, policies: [WriteVerifyPolicy(kind: .none)],
                timesSeconds: [1], seed: 7, test: images)
            return (0..<60).map { Double(simulator.simulate(instance: $0).accuracy[0][0]) }
        }
        let (perChip, perChipStd) = meanAndStd(try accuracies(.perChip))
        let (perRead, perReadStd) = meanAndStd(try accuracies(.perRead))
        #expect(perChip < 0.97 && perRead < 0.97)  // the noise matters
        let standardError = ((perChipStd * perChipStd + perReadStd * perReadStd) / 60).squareRoot()
        #expect(abs(perChip - perRead) < 4 * standardError, "\(perChip) vs \(perRead) ± \(standardError)")
        // Per-read averages the noise over images within a chip: chips differ less.
        #expect(perReadStd < perChipStd)
    }
}
