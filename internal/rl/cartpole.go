package rl

import (
	"math"
	"math/rand/v2"
)

// CartPoleName names the environment in snapshots and in the API.
const CartPoleName = "cartpole-v1"

// CartPole constants: Gymnasium's CartPole-v1.
const (
	cpGravity       = 9.8
	cpMassCart      = 1.0
	cpMassPole      = 0.1
	cpTotalMass     = cpMassCart + cpMassPole
	cpHalfLength    = 0.5 // half the pole's length
	cpPoleMassLen   = cpMassPole * cpHalfLength
	cpForce         = 10.0
	cpTau           = 0.02 // seconds between state updates
	cpThetaLimit    = 12 * 2 * math.Pi / 360
	cpXLimit        = 2.4
	cpMaxSteps      = 500
	cpResetSpread   = 0.05
	cpVelocityLimit = 0.5 // m/s: the outer bins of cart velocity
	cpOmegaLimit    = 50 * math.Pi / 180
)

// cartPoleBins is how many bins each state variable is cut into: cart
// position, cart velocity, pole angle, pole angular velocity. Values
// beyond the outer edges fall into the outer bins. The cart's position and
// velocity get one bin each, that is they are ignored: a coarse table of
// the pole's angle and angular velocity learns to balance within a few
// hundred episodes, where finer grids need thousands. Changing it changes
// the Q-table's shape, so it is part of the environment's identity.
var cartPoleBins = [4]int{1, 1, 6, 6}

// CartPoleMaxSteps is the step limit of an episode, and so its best reward.
const CartPoleMaxSteps = cpMaxSteps

// CartPole is the pole-balancing environment. Its zero value is not ready:
// call [CartPole.Reset] before [CartPole.Step]. A CartPole is not safe for
// concurrent use.
type CartPole struct {
	x, xDot, theta, thetaDot float64
	steps                    int
}

var _ Environment = (*CartPole)(nil)

// Name implements [Environment].
func (*CartPole) Name() string { return CartPoleName }

// Actions implements [Environment]: 0 pushes left, 1 pushes right.
func (*CartPole) Actions() int { return 2 }

// States implements [Environment].
func (*CartPole) States() int {
	n := 1
	for _, b := range cartPoleBins {
		n *= b
	}
	return n
}

// Reset implements [Environment]: every state variable starts uniform in
// ±0.05.
func (c *CartPole) Reset(rng *rand.Rand) int {
	u := func() float64 { return (rng.Float64()*2 - 1) * cpResetSpread }
	c.x, c.xDot, c.theta, c.thetaDot = u(), u(), u(), u()
	c.steps = 0
	return c.state()
}

// Step implements [Environment] with the semi-implicit dynamics of
// Gymnasium's CartPole (Euler integration, 20 ms).
func (c *CartPole) Step(action int) (state int, reward float64, terminated, truncated bool) {
	force := cpForce
	if action == 0 {
		force = -cpForce
	}
	cos, sin := math.Cos(c.theta), math.Sin(c.theta)
	temp := (force + cpPoleMassLen*c.thetaDot*c.thetaDot*sin) / cpTotalMass
	thetaAcc := (cpGravity*sin - cos*temp) / (cpHalfLength * (4.0/3.0 - cpMassPole*cos*cos/cpTotalMass))
	xAcc := temp - cpPoleMassLen*thetaAcc*cos/cpTotalMass
	c.x += cpTau * c.xDot
	c.xDot += cpTau * xAcc
	c.theta += cpTau * c.thetaDot
	c.thetaDot += cpTau * thetaAcc
	c.steps++
	terminated = c.x < -cpXLimit || c.x > cpXLimit || c.theta < -cpThetaLimit || c.theta > cpThetaLimit
	truncated = !terminated && c.steps >= cpMaxSteps
	return c.state(), 1, terminated, truncated
}

// state maps the continuous state to its bin index.
func (c *CartPole) state() int {
	vals := [4]float64{c.x, c.xDot, c.theta, c.thetaDot}
	limits := [4]float64{cpXLimit, cpVelocityLimit, cpThetaLimit, cpOmegaLimit}
	idx := 0
	for i, v := range vals {
		idx = idx*cartPoleBins[i] + bin(v, limits[i], cartPoleBins[i])
	}
	return idx
}

// bin cuts [-limit, limit] into n equal bins; values outside go to the
// outer ones.
func bin(v, limit float64, n int) int {
	if n == 1 {
		return 0
	}
	b := int((v + limit) / (2 * limit) * float64(n))
	return min(max(b, 0), n-1)
}
