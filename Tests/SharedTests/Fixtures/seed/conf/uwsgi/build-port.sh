#!/bin/sh
# Build name -> port, as the seed's deploy scripts map it: a=2000, b=2010, ...,
# z=2250, aa=2260 (bijective base 26), times 10, plus 2000.
name=$1
n=0
for c in $(printf '%s' "$name" | fold -w1); do
    v=$(( $(printf '%d' "'$c") - 96 ))
    n=$(( n * 26 + v ))
done
echo $(( 2000 + (n - 1) * 10 ))
