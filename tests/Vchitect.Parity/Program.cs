using Vchitect.Parity;

// dotnet run --project tests/Vchitect.Parity -c Release -- <fixture files or folders>
return ParityRunner.Run(args, Console.Out);
