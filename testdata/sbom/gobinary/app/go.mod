module example.com/tars-hello

go 1.22

require example.com/greet v1.2.3

replace example.com/greet v1.2.3 => ../greet
