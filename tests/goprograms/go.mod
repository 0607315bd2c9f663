module gotrace.example/goprograms

go 1.22
