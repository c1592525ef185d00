import Foundation

/// The performance measurements of `cimcarlo bench`: this machine's sgemm rate,
/// the engine's Gaussian rate, and Monte-Carlo throughput against the floor they imply.
public enum Benchmark {
    /// One measured workload; its field names in snake case (`JSONEncoder.KeyEncodingStrategy
    /// .convertToSnakeCase`: `secondsPerInstance` → `seconds_per_instance`) are the JSON contract.
    public struct Measurement: Codable, Sendable {
        public var workload: String
        public var instances: Int
        public var threads: Int
        public var secondsPerInstance: Double
        /// Forward-pass GEMM FLOPs ÷ sgemm rate + device samples ÷ Gaussian rate, per instance,
        /// divided by the threads.
        public var floorSecondsPerInstance: Double
        /// floor ÷ measured (1 = at the floor).
        public var fractionOfFloor: Double
        /// Single-thread sgemm rate used for the floor (each worker runs single-threaded BLAS).
        public var sgemmGflops: Double
        /// All-thread sgemm rate, for reference.
        public var sgemmGflopsAllThreads: Double
        public var gaussianPerSecond: Double
        /// (seconds per instance at 1 thread) ÷ (threads × seconds per instance here).
        public var parallelEfficiency: Double
        public var peakRssBytes: Int
        public var forwardGflopPerInstance: Double
        public var deviceSamplesPerInstance: Double
    }

    /// The machine's rates the floor is computed from.
    public struct Rates: Sendable {
        public var sgemmGigaflopsOneThread: Double
        public var sgemmGigaflopsAllThreads: Double
        public var gaussiansPerSecond: Double

        /// Measures all three (`threads` for the all-thread sgemm).
        public static func measure(threads: Int) -> Rates {
            Rates(
                sgemmGigaflopsOneThread: sgemmGigaflops(threads: 1),
                sgemmGigaflopsAllThreads: sgemmGigaflops(threads: threads),
                gaussiansPerSecond: gaussianRate())
        }
    }

    /// Monte-Carlo of `network` with `device` (8-bit sign-magnitude mapping, policy none, one
    /// time point; effective-weight unless `periphery` says tile) at 1 thread and at `threads`, `instancesPerThread` instances
    /// per worker; one measurement per thread count.
    public static func measureWorkload(
        _ name: String, network: Network, device: DeviceModel, test: LabeledImages,
        instancesPerThread: Int, threads: Int, rates: Rates,
        periphery: PeripheryConfiguration = PeripheryConfiguration()
    ) throws -> [Measurement] {
        let mapping = CrossbarMapping(
            network: network,
            configuration: MappingConfiguration(
                weightBits: 8, signEncoding: .signMagnitude), cellBits: device.cellBits)
        let flops = try forwardFlops(network, images: test.count)
        let samples = deviceSamples(mapping: mapping, device: device, times: 1)
        let floor = flops / (rates.sgemmGigaflopsOneThread * 1e9) + samples / rates.gaussiansPerSecond
        var single = 0.0
        return try Set([1, threads]).sorted().map { workers in
            let seconds = try secondsPerInstance(
                network: network, mapping: mapping, device: device, test: test,
                instances: instancesPerThread * workers, threads: workers,
                periphery: periphery)
            if workers == 1 { single = seconds }
            return Measurement(
                workload: name, instances: instancesPerThread * workers, threads: workers,
                secondsPerInstance: seconds,
                floorSecondsPerInstance: floor / Double(workers),
                fractionOfFloor: floor / Double(workers) / seconds,
                sgemmGflops: rates.sgemmGigaflopsOneThread, sgemmGflopsAllThreads: rates.sgemmGigaflopsAllThreads,
                gaussianPerSecond: rates.gaussiansPerSecond,
                parallelEfficiency: single / (Double(workers) * seconds),
                peakRssBytes: peakResidentBytes(), forwardGflopPerInstance: flops / 1e9,
                deviceSamplesPerInstance: samples)
        }
    }

    /// sgemm GFLOP/s on an `n × n` product with `threads` OpenBLAS threads (best of `repeats`).
    public static func sgemmGigaflops(size n: Int = 2048, threads: Int, repeats: Int = 3) -> Double {
        BLAS.setThreadCount(threads)
        var generator = SplitMix64(seed: 1)
        let a = (0..<(n * n)).map { _ in Float(generator.nextOpenUnitInterval()) }
        let b = (0..<(n * n)).map { _ in Float(generator.nextOpenUnitInterval()) }
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for _ in 0..<repeats {
            let started = DispatchTime.now().uptimeNanoseconds
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        BLAS.gemm(
                            m: n, n: n, k: n, a: a.baseAddress!, lda: n, b: b.baseAddress!, ldb: n,
                            c: c.baseAddress!, ldc: n)
                    }
                }
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9)
        }
        return 2 * pow(Double(n), 3) / best * 1e-9
    }

    /// Standard normal draws per second of the engine's generator (`CounterRandom.normal`), one thread.
    public static func gaussianRate(count: Int = 20_000_000) -> Double {
        let stream = CounterRandom(seed: 1, instance: 0, purpose: .programming)
        var sink = 0.0
        let started = DispatchTime.now().uptimeNanoseconds
        for counter in 0..<count { sink += stream.normal(counter) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9
        precondition(sink.isFinite)
        return Double(count) / seconds
    }

    /// FLOPs of the GEMMs of one forward pass over `images` test images (2·M·N·K per product).
    public static func forwardFlops(_ network: Network, images: Int) throws -> Double {
        let shapes = try network.activationShapes()
        var flops = 0.0
        for index in network.weightNodeIndices {
            flops +=
                2 * Double(network.crossbarOperation(ofNode: index)!.multiplyAccumulates(output: shapes[index + 1]))
        }
        return flops * Double(images)
    }

    /// Standard normal draws the engine makes per instance for one policy without write-verify
    /// and one time point: one per device per enabled source.
    public static func deviceSamples(mapping: CrossbarMapping, device: DeviceModel, times: Int) -> Double {
        let perDevice =
            (device.deviceToDevice.isNone ? 0 : 1) + (device.programming.isNone ? 0 : 1)
            + (device.drift == nil ? 0 : 1) + (device.readNoise == nil ? 0 : times)
        return Double(mapping.deviceCount * perDevice)
    }

    /// Peak resident set size of this process so far, bytes.
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024
    }

    /// Seconds per instance of effective-weight Monte-Carlo (policy `none`, one time point)
    /// with `threads` workers over `instances` instances.
    public static func secondsPerInstance(
        network: Network, mapping: CrossbarMapping, device: DeviceModel,
        test: LabeledImages, instances: Int, threads: Int,
        periphery: PeripheryConfiguration = PeripheryConfiguration()
    ) throws -> Double {
        let started = DispatchTime.now().uptimeNanoseconds
        try MonteCarloEngine.run(
            instances: Array(0..<instances), threads: threads,
            makeSimulator: {
                try ChipSimulator(
                    network: network, mapping: mapping, device: device,
                    policies: [WriteVerifyPolicy(kind: .none)], timesSeconds: [0], seed: 1, test: test,
                    periphery: periphery)
            },
            sink: ResultCollector(instances: Array(0..<instances), policies: 1, times: 1))
        return Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9 / Double(instances)
    }
}
