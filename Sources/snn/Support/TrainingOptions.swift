import ArgumentParser
import SNNTraining

/// Optimisation options shared by train, demo and experiments.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Epochs.")
    var epochs: Int = 10

    @Option(help: "Mini-batch size.")
    var batchSize: Int = 32

    @Option(help: "Learning rate.")
    var lr: Float = 1e-3

    @Option(help: "Optimizer: adam, adamw or sgd.")
    var optimizer: String = "adam"

    @Option(help: "Weight decay (L2 for adam and sgd, decoupled for adamw).")
    var weightDecay: Float = 1e-5

    @Option(help: "Momentum for sgd.")
    var momentum: Float = 0.9

    @Option(help: "Learning-rate schedule: constant, cosine, step:EVERY:GAMMA (e.g. step:10:0.5), or bntt (divide by 10 at 50, 70 and 90% of the epochs).")
    var schedule: String = "constant"

    @Option(help: "Weight decay of the normalisation parameters (BNTT's gamma, BN's gamma and beta); default: --weight-decay.")
    var gammaWeightDecay: Float?

    @Option(help: "A training recipe: bntt = SGD momentum 0.9, weight decay 1e-4, the bntt schedule, mean-ce loss, BNTT's neuron (leak --beta or 0.95, threshold 1, subtractive reset not differentiated, triangle surrogate), signed-poisson input (crop+flip on cifar10), --arch vgg5 by default (image datasets), lr 0.1 (the paper's) unless --lr is given. --epochs, --batch-size, --gamma-weight-decay stay yours.")
    var recipe: String?

    @Option(help: "Clip the global gradient norm to this value (0: off).")
    var clip: Float = 0

    @Option(help: "Loss: rate-ce (mean over frames of CE on that frame's output counts), count-ce, membrane-ce, count-mse, mean-ce (CE of the output averaged over frames: for a :readout last layer). Default: rate-ce for layered training, count-ce for unlayered training (see docs/ALGORITHMS.md).")
    var loss: String?

    /// Checks every value before any work: finite learning rate, decay, momentum and clip; sizes in range.
    func validate() throws {
        try Check.integer(epochs, "--epochs", min: 1, max: 1_000_000)
        try Check.integer(batchSize, "--batch-size", min: 1, max: Check.maximumBatch)
        try Check.finite(lr, "--lr", max: 1e3, above: 0)
        try Check.finite(weightDecay, "--weight-decay", min: 0, max: 1e3)
        try Check.finite(momentum, "--momentum", min: 0, below: 1)
        try Check.finite(clip, "--clip", min: 0, hint: " (0: off)")
        if let gammaWeightDecay { try Check.finite(gammaWeightDecay, "--gamma-weight-decay", min: 0, max: 1e3) }
        _ = try usesBNTTRecipe()
    }

    /// `--recipe bntt`'s learning rate when `--lr` is not given (the BNTT paper's).
    static let bnttLearningRate: Float = 0.1

    /// Whether `--recipe bntt` is on (any other recipe is an error).
    func usesBNTTRecipe() throws -> Bool {
        guard let recipe else { return false }
        guard recipe == "bntt" else { throw ValidationError("unknown --recipe '\(recipe)' (bntt)") }
        return true
    }

    /// The training configuration; `defaultLoss` applies when `--loss` is not given.
    func configuration(seed: UInt64, defaultLoss: Loss = .rateCrossEntropy) throws -> TrainingConfiguration {
        var c = TrainingConfiguration()
        try validate()
        if let g = gammaWeightDecay { c.normalizationWeightDecay = g }
        if try usesBNTTRecipe() {
            // The recipe's SGD needs the paper's rate: --lr's default (1e-3, for Adam) leaves it at chance.
            c.epochs = epochs; c.learningRate = givenOptions().contains("--lr") ? lr : Self.bnttLearningRate; c.seed = seed
            c.optimizer = .sgd(momentum: 0.9, weightDecay: 1e-4)
            c.schedule = .bntt(epochs: epochs)
            c.loss = .meanCrossEntropy
            c.gradientClipNorm = clip > 0 ? clip : nil
            return c
        }
        c.epochs = epochs
        c.learningRate = lr
        c.seed = seed
        switch optimizer {
        case "adam": c.optimizer = .adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: weightDecay)
        case "adamw": c.optimizer = .adamW(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: weightDecay)
        case "sgd": c.optimizer = .sgd(momentum: momentum, weightDecay: weightDecay)
        default: throw ValidationError("--optimizer must be adam, adamw or sgd")
        }
        if schedule == "constant" { c.schedule = .constant }
        else if schedule == "cosine" { c.schedule = .cosine(epochs: epochs, minimum: 0) }
        else if schedule == "bntt" { c.schedule = .bntt(epochs: epochs) }
        else if schedule.hasPrefix("step:") {
            let parts = schedule.split(separator: ":")
            guard parts.count == 3, let every = Int(parts[1]), let gamma = Float(parts[2]), every > 0, gamma.isFinite, gamma > 0 else {
                throw ValidationError("--schedule step needs step:EVERY:GAMMA, e.g. step:10:0.5")
            }
            c.schedule = .step(every: every, gamma: gamma)
        } else { throw ValidationError("--schedule must be constant, cosine or step:EVERY:GAMMA") }
        c.gradientClipNorm = clip > 0 ? clip : nil
        if let loss {
            guard let l = Loss(rawValue: loss) else {
                throw ValidationError("--loss must be one of \(Loss.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(loss)')")
            }
            c.loss = l
        } else {
            c.loss = defaultLoss
        }
        return c
    }
}
