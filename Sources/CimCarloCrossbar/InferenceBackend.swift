import CimCarloDevices
import CimCarloNetwork
import CimCarloSupport

/// Where a pass's read devices go besides its effective weights — per-read variances
/// (`ReadNoiseProduct`) or tile-accurate conductances (`TileSimulator`) — and what a pass's
/// products add: the backend installs its workspace hook for its passes and removes it after.
package protocol InferenceBackend: AnyObject {
    /// Prepares pass `pass` for mapped layer `layer`; `readNoise`: whether the pass has per-read noise.
    func startLayer(_ layer: Int, pass: Int, readNoise: Bool)
    /// Takes the chunk's levels read (`levels`, and `chunk.variance` with per-read noise) for
    /// its weights from `firstWeight` on.
    func store(_ chunk: DeviceChunk, pass: Int, layer: Int, firstWeight: Int, levels: DeviceBuffer<Float>)
    /// Takes the chunk's reference devices (the layer's from `firstDevice` on).
    func storeReference(_ chunk: DeviceChunk, pass: Int, layer: Int, firstDevice: Int)
    /// Ends pass `pass`'s layer, with its drift compensation per column (nil: none).
    func finishLayer(_ layer: Int, pass: Int, factors: [Float]?)
    /// Evaluates pass `pass` from here on, its per-read draws from `stream`.
    func select(pass: Int, stream: CounterRandom)
    /// Installs the backend's product hook on `workspace`, after `effects` (IR drop) where the
    /// backend leaves products to the network; `remove` takes it off.
    func install(on workspace: NetworkWorkspace, after effects: ProductEffect?)
}

extension InferenceBackend {
    /// Takes the hooks `install` put on `workspace` off.
    package func remove(from workspace: NetworkWorkspace) {
        workspace.matrixProduct = nil
        workspace.productEffect = nil
    }
}
