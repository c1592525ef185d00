// The library product: every layer of cimcarlo under one `import CimCarlo`. Each layer is a
// target of its own that depends only on the layers below it (Package.swift lists them in
// order), so a reference upwards does not compile.
@_exported import CimCarloCrossbar
@_exported import CimCarloDevices
@_exported import CimCarloNetwork
@_exported import CimCarloONNX
@_exported import CimCarloResults
@_exported import CimCarloSimulation
@_exported import CimCarloStudy
@_exported import CimCarloSupport
