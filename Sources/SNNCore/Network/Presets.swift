/// Named architectures for `--arch`: the VGGs of the BNTT paper (Kim & Panda 2020).
///
/// - `vgg9`: conv64, conv64, avg2, conv128, conv128, avg2, conv256, conv256, conv256, avg2, fc1024,
///   fc-classes (the paper's CIFAR-10 network). Convolutions 3x3, stride 1, padding 1, no bias.
/// - `vgg5`: conv16, avg2, conv32, avg2, fc128, fc-classes: two conv stages and a hidden fc, small
///   enough to train on two CPU cores in minutes.
///
/// Every conv and the hidden fc feed a LIF population with the chosen input normalisation (or none);
/// the last fc is a non-spiking read-out (train it with ``Loss``'s `mean-ce`). Pooling averages spikes.
public enum NetworkPresets {
    /// The preset names.
    public static let names = ["vgg5", "vgg9"]

    /// The short architecture string of preset `name` for `inputShape` (`[C, H, W]`) and `classes`.
    public static func architecture(_ name: String, inputShape: [Int], classes: Int, normalization: InputNormalization.Kind?) throws -> String {
        guard inputShape.count == 3 else {
            throw ShapeError("preset '\(name)' needs image frames [C, H, W], got \(inputShape)")
        }
        let suffix = normalization.map { ":\($0.rawValue)" } ?? ""
        let input = "input=\(inputShape.map(String.init).joined(separator: "x"))"
        let items: [String]
        switch name {
        case "vgg9":
            items = ["conv64k3p1", "conv64k3p1", "avg2", "conv128k3p1", "conv128k3p1", "avg2",
                     "conv256k3p1", "conv256k3p1", "conv256k3p1", "avg2", "fc1024"]
        case "vgg5":
            items = ["conv16k3p1", "avg2", "conv32k3p1", "avg2", "fc128"]
        default:
            throw ShapeError("unknown architecture preset '\(name)' (presets: \(names.joined(separator: ", ")))")
        }
        let body = items.map { $0.hasPrefix("avg") ? $0 : $0 + suffix }
        return ([input] + body + ["fc\(classes):readout"]).joined(separator: ",")
    }

    /// The preset as a network description.
    public static func spec(_ name: String, inputShape: [Int], classes: Int, neuron: LIFParameters,
                            normalization: InputNormalization.Kind?, timeSteps: Int) throws -> NetworkSpec {
        try NetworkSpec.parse(try architecture(name, inputShape: inputShape, classes: classes, normalization: normalization),
                              neuron: neuron, timeSteps: timeSteps)
    }
}

extension LIFParameters {
    /// BNTT's neuron: leak `beta` (0.95 or 0.99), threshold 1, reset by subtraction not differentiated,
    /// triangle surrogate `0.3 max(0, 1 - |U/theta - 1|)` taken with respect to `U/theta - 1` (so
    /// `0.3/theta` high and `theta` wide in `U - theta`).
    public static func bntt(beta: Float = 0.95, threshold: Float = 1) -> LIFParameters {
        LIFParameters(beta: beta, threshold: threshold, reset: .subtract,
                      surrogate: .triangle(height: 0.3 / threshold, halfWidth: threshold), detachReset: true)
    }
}
