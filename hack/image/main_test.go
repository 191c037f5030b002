package main

import "testing"

func TestInsecureOption(t *testing.T) {
	tests := []struct {
		image, mode string
		want        bool
		wantErr     bool
	}{
		{image: "127.0.0.1:5000/imageconfig-operator:dev", mode: "auto", want: true},
		{image: "127.1.2.3:5000/imageconfig-operator:dev", mode: "auto", want: true},
		{image: "localhost:5000/imageconfig-operator:dev", mode: "auto", want: true},
		{image: "[::1]:5000/imageconfig-operator:dev", mode: "auto", want: true},
		{image: "localhost/imageconfig-operator", mode: "", want: true},
		{image: "registry.example.com/imageconfig-operator:v1", mode: "auto", want: false},
		{image: "192.168.1.10:5000/imageconfig-operator:v1", mode: "auto", want: false},
		{image: "localhost.example.com:5000/imageconfig-operator:v1", mode: "auto", want: false},
		{image: "registry.example.com/imageconfig-operator:v1", mode: "true", want: true},
		{image: "127.0.0.1:5000/imageconfig-operator:dev", mode: "false", want: false},
		{image: "127.0.0.1:5000/imageconfig-operator:dev", mode: "yes", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.image+"/"+tt.mode, func(t *testing.T) {
			opts, err := insecureOption(tt.image, tt.mode)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got := len(opts) == 1; got != tt.want {
				t.Errorf("insecure = %v, want %v", got, tt.want)
			}
		})
	}
}
