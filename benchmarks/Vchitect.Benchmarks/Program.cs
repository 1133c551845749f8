using BenchmarkDotNet.Running;

// Runs any benchmark class of this assembly: `dotnet run -c Release -- --filter '*SchedulerStep*'`, or `--list flat`.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
